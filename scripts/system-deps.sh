#!/usr/bin/env bash
# Debian packages tagservice needs outside PyPI.
#   base: fonts that cover any patient's name on a printed card (Latin, Greek,
#         Cyrillic, Arabic, Hebrew, CJK, Indic...) and fribidi for right-to-left
#         shaping; poppler-utils lets the tests rasterise card PDFs.
#   ci:   base + PostgreSQL, Redis and Chromium for the database, multi-host and
#         browser tests.
#   bench: base + wrk, the load generator of bench/unlock.py.
# As root it installs what is missing; otherwise it prints the command and
# exits 1 if anything is missing, so `make` stops with a clear message.
set -euo pipefail
group=${1:-base}
base="fonts-dejavu-core fonts-droid-fallback fonts-noto-core libfribidi0 poppler-utils"
case "$group" in
  base) wanted="$base" ;;
  ci)   wanted="$base postgresql redis-server chromium" ;;
  bench) wanted="$base wrk" ;;
  *)    echo "usage: $0 [base|ci|bench]" >&2; exit 2 ;;
esac
missing=""
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ "$group" = ci ]; then  # tools that may come from outside Debian's packages
  command -v make >/dev/null || missing="$missing make"
  command -v npm >/dev/null || missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "tagservice needs these Debian packages:$missing" >&2
  echo "install them with: sudo apt-get install -y$missing" >&2
  exit 1
fi
