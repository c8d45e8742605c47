"""Flask's signed-cookie session, without its per-request set-up on requests that have none.

Flask builds a new signing serializer (key list, salt, a JSON round trip to
test the serializer) on every request, before it even looks for the cookie,
and reads seven cookie settings before it finds an empty session has nothing
to save. Bearer API requests, /healthz and scans carry no session cookie: for
them that work is all there is, and it showed in the workers' CPU per unlock
(bench/unlock.py). Here the serializer is built once per set of keys and only
when a cookie is there to read or a session to write; what is read, written,
refused and the headers sent are Flask's own.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request, Response


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializer: tuple | None = None  # (keys, Flask's serializer for them)

    def get_signing_serializer(self, app: Flask):
        # the keys it was built with: a test or an operator may change them
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._serializer
        if cached is None or cached[0] != keys:
            cached = self._serializer = (keys, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask returns for no cookie, minus the set-up
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response: Response) -> None:
        if not session and not session.modified:  # nothing to write or delete
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = LazyCookieSessionInterface()
