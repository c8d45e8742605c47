"""gunicorn entry point: `gunicorn wsgi:app`."""

from tagservice import create_app

app = create_app()
