"""What rarely changes in a workspace, read once per Workspace object.

The inbound path reads, for every batch of customers' texts, the shop's own keywords,
its auto-answer rules, its teams' members, its webhook endpoints and its inbox settings:
a handful of queries that cost a fifth of a batch and almost never return anything new.
Each is kept on the Workspace object it was read for (`workspace_memo`), so it lives as
long as that object: one request, one task, or, for the webhook view's channels
(`comptoir.channels.recent`), at most CHANNEL_TTL seconds.

Saving or deleting a row of a model registered with `memo_sources` forgets every memo
of this process at once (a generation counter, not a search for the objects holding
them); other processes see the change when their objects are read afresh. A change made
with `QuerySet.update()` sends no signal: call `memo_forget()` after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")

_generation = 0


def _current(workspace: Any) -> dict[str, Any]:
    """The workspace object's memo, emptied if anything changed since it was filled."""
    memo: dict[str, Any] | None = workspace.__dict__.get("_memo")
    if memo is None or memo.get("generation") != _generation:
        memo = {"generation": _generation}
        workspace.__dict__["_memo"] = memo
    return memo


def workspace_memo(workspace: Any, name: str, load: Callable[[], T]) -> T:
    """`load()`'s value for this workspace object, read once while nothing changed."""
    memo = _current(workspace)
    if name not in memo:
        memo[name] = load()
    return memo[name]  # type: ignore[no-any-return]


def workspace_memo_set(workspace: Any, name: str, value: Any) -> None:
    """Replace one memo by a value just written (the settings page saving its row)."""
    _current(workspace)[name] = value


def memo_forget(*_args: object, **_kwargs: object) -> None:
    """Every memo of this process is read again on next use."""
    global _generation
    _generation += 1


def memo_sources(*models: type[Model]) -> None:
    """Rows of these models feed memos: saving or deleting one forgets them."""
    for model in models:
        uid = f"workspace_memo_{model._meta.label}"
        post_save.connect(memo_forget, sender=model, dispatch_uid=uid)
        post_delete.connect(memo_forget, sender=model, dispatch_uid=uid)
