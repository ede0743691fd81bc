"""The WSGI application: the site, and a lean path for providers' webhooks.

A provider's POST to /hooks/<channel-uuid>/<action> needs none of the site's middleware
(sessions, language, CSRF, messages, clickjacking and security headers are for people
in a browser), and going through the ten of them cost an eighth of an inbound webhook.
Those requests go to a handler whose chain is the view alone; Django's request signals
(database connections opened and given back) still fire as for any request.
"""

import os
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest
from django.http.response import HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")

HOOKS_PREFIX = "/hooks/"


class HooksHandler(WSGIHandler):
    """Django's handler without middleware: URL resolving, the view, its response."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        view: Any = self._get_response  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(view)

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        response = super().get_response(request)
        # What CommonMiddleware adds on the site: without it the answer goes chunked.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
        return response


site = get_wsgi_application()
hooks = HooksHandler()


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if environ.get("PATH_INFO", "").startswith(HOOKS_PREFIX):
        return hooks(environ, start_response)
    return site(environ, start_response)
