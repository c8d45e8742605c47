"""Wallet-card and tag-insert rendering (Pillow), usable without the web app.

Until the card issue lands this offers the plain QR image that
`tagservice issue --out x.png` writes.
"""

from .qr import make_qr, qr_png, qr_version

__all__ = ["make_qr", "qr_png", "qr_version"]
