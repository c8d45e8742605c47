"""gunicorn entry point: `gunicorn wsgi:app`."""

import gc

from gunicorn.errors import AppImportError

from tagservice import create_app
from tagservice.config import ConfigError

try:
    app = create_app()
except ConfigError as e:
    # gunicorn prints this one line and stops, instead of a traceback per worker and
    # a service that answers every scan with an error.
    raise AppImportError(f"tagservice cannot start: {e}") from None
# Everything loaded so far lives as long as the worker: keep it out of the collector's
# full passes, which otherwise stall one request in a few thousand for ~50 ms
# (the p99 of bench/unlock.py).
gc.freeze()
