"""The keyword endpoints of the REST API: thin over comptoir.compliance.keywords.

Mounted at /api/v1/ by api.py, which provides authentication (the workspace of the
Bearer key) and turns service errors into `{"error": {code, field, message}}`.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from comptoir.api.common import actor_label, request_workspace
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.compliance.keywords import (
    BUILT_IN,
    MAX_KEYWORD_LENGTH,
    workspace_keyword_add,
    workspace_keyword_remove,
)
from comptoir.compliance.models import WorkspaceKeyword

router = Router(tags=["keywords"])


class KeywordIn(InputSchema):
    word: str = Field(
        max_length=MAX_KEYWORD_LENGTH,
        description="Up to three words; stored as matched: lower case, no accents or "
        "punctuation ('Stop promo !' -> 'stop promo').",
    )
    kind: Literal["opt_out", "opt_in", "help"]


class KeywordOut(Schema):
    id: int | None = Field(description="The shop's own keywords only; null for a built-in one.")
    word: str
    kind: str
    language: str | None = Field(
        description="A built-in keyword's language; null for the shop's own (every language)."
    )
    builtin: bool


def _own(keyword: WorkspaceKeyword) -> dict[str, Any]:
    return {"id": keyword.id, "word": keyword.word, "kind": keyword.kind, "language": None}


@router.get(
    "/keywords",
    response=list[KeywordOut],
    summary="The shop's own keywords, then the built-in ones (builtin: true) per language",
)
def list_keywords(request: HttpRequest) -> list[dict[str, Any]]:
    own = WorkspaceKeyword.objects.filter(workspace=request_workspace(request)).order_by(
        "kind", "word"
    )
    rows = [{**_own(k), "builtin": False} for k in own]
    rows += [
        {"id": None, "word": word, "kind": kind.value, "language": language, "builtin": True}
        for language, kinds in BUILT_IN.items()
        for kind, words in kinds.items()
        for word in words
    ]
    return rows


@router.post(
    "/keywords",
    response={201: KeywordOut, 409: ErrorOut, 422: ErrorOut},
    summary="Add a keyword of the shop's own (audited); 409 when it is already understood",
)
def add_keyword(request: HttpRequest, payload: KeywordIn) -> Status[dict[str, Any]]:
    keyword = workspace_keyword_add(
        workspace=request_workspace(request),
        word=payload.word,
        kind=payload.kind,
        actor_label=actor_label(request),
    )
    return Status(201, {**_own(keyword), "builtin": False})


@router.delete(
    "/keywords/{keyword_id}",
    response={204: None, 404: ErrorOut},
    summary="Remove one of the shop's own keywords (audited); built-in ones cannot be",
)
def remove_keyword(request: HttpRequest, keyword_id: int) -> Status[None]:
    workspace_keyword_remove(
        workspace=request_workspace(request),
        keyword_id=keyword_id,
        actor_label=actor_label(request),
    )
    return Status(204, None)
