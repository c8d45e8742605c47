"""gunicorn entry point: `gunicorn wsgi:app`."""

import gc

from tagservice import create_app

app = create_app()
# Everything loaded so far lives as long as the worker: keep it out of the collector's
# full passes, which otherwise stall one request in a few thousand for ~50 ms
# (the p99 of bench/unlock.py).
gc.freeze()
