"""The unsubscribe link's page: GET asks, POST (one click, RFC 8058) does it.

Mail providers post `List-Unsubscribe=One-Click` without cookies or a form of ours,
so the POST needs no CSRF token: the signed token in the URL is the authority, and all
it can do is stop marketing emails to the address it was sent to.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from comptoir.providers.email.unsubscribe import (
    InvalidToken,
    email_unsubscribe,
    unsubscribe_preview,
)

TEMPLATE = Path(__file__).parent / "templates" / "unsubscribe.html"


@cache
def _template() -> Any:
    # A provider is a folder, not an installed app: its one page is loaded from beside it.
    return engines["django"].from_string(TEMPLATE.read_text(encoding="utf-8"))


def _page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    response = HttpResponse(_template().render(context, request), status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            return _page(request, result=email_unsubscribe(token=token), done=True)
        return _page(request, result=unsubscribe_preview(token=token))
    except InvalidToken as exc:
        return _page(request, status=400, error=str(exc))
