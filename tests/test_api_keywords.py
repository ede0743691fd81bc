"""GET/POST/DELETE /api/v1/keywords: the shop's own keywords, audited; built-ins listed."""

from __future__ import annotations

import pytest

from comptoir.compliance.audit import AuditAction
from comptoir.compliance.keywords import BUILT_IN, workspace_keyword_add
from comptoir.compliance.models import AuditEntry, WorkspaceKeyword
from comptoir.contacts.models import Contact
from comptoir.sandbox.carrier import customer_texts
from tests.conftest import ApiClient

URL = "/api/v1/keywords"


def delete(api: ApiClient, path: str) -> object:
    return api.delete(path, HTTP_AUTHORIZATION=f"Bearer {api.key}")


def test_the_list_has_the_shops_keywords_then_every_built_in(api, workspace, other_workspace):
    mine = workspace_keyword_add(workspace=workspace, word="basta", kind="opt_out")
    workspace_keyword_add(workspace=other_workspace, word="assez", kind="opt_out")
    response = api.get(URL)
    assert response.status_code == 200
    rows = response.json()
    assert rows[0] == {
        "id": mine.id,
        "word": "basta",
        "kind": "opt_out",
        "language": None,
        "builtin": False,
    }
    assert not any(r["word"] == "assez" for r in rows)
    builtin = [r for r in rows if r["builtin"]]
    assert len(builtin) == sum(len(w) for kinds in BUILT_IN.values() for w in kinds.values())
    assert {"id": None, "word": "arret", "kind": "opt_out", "language": "fr", "builtin": True} in (
        builtin
    )
    assert {"id": None, "word": "help", "kind": "help", "language": "en", "builtin": True} in (
        builtin
    )


def test_adding_a_keyword_stores_it_as_matched_and_audits_the_key(api, api_key, workspace, channel):
    response = api.post(URL, {"word": "Ça suffit !", "kind": "opt_out"})
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "word": "ca suffit",
        "kind": "opt_out",
        "language": None,
        "builtin": False,
    }
    assert WorkspaceKeyword.objects.get(id=body["id"]).workspace_id == workspace.id
    [entry] = AuditEntry.objects.filter(workspace=workspace, action=AuditAction.KEYWORD_ADDED)
    assert entry.actor_label == f"api key {api_key[:10]}…"
    assert api_key not in entry.actor_label
    assert entry.details == {"word": "ca suffit", "kind": "opt_out"}
    # It works: a customer texting it opts out.
    customer_texts(channel=channel, sender="+33612345678", text="ça suffit")
    contact = Contact.objects.get(workspace=workspace)
    assert contact.consents.get(purpose="marketing").action == "revoked"


@pytest.mark.parametrize(
    ("payload", "status", "field", "says"),
    [
        ({"word": "", "kind": "opt_out"}, 422, "word", "letters or digits"),
        ({"word": "  ", "kind": "opt_out"}, 422, "word", "letters or digits"),
        ({"word": "x" * 41, "kind": "opt_out"}, 422, "word", "at most 40"),
        ({"word": "un deux trois quatre", "kind": "opt_out"}, 422, "word", "at most 3 words"),
        ({"word": "stop", "kind": "opt_in"}, 422, "word", "built-in opt-out keyword (en, fr)"),
        ({"word": "Yes", "kind": "help"}, 422, "word", "built-in opt-in keyword (en)"),
        ({"word": "basta", "kind": "block"}, 422, "kind", "'opt_out', 'opt_in' or 'help'"),
        ({"kind": "opt_out"}, 422, "word", "Field required"),
        ({"word": "a\x00b", "kind": "help"}, 422, "word", "NUL"),
        ({"word": "BASTA", "kind": "help"}, 409, "word", "already one of this shop's keywords"),
        ({"word": "STOP", "kind": "opt_out"}, 409, "word", "already a built-in keyword"),
    ],
)
def test_bad_keywords_are_refused_naming_the_field(api, workspace, payload, status, field, says):
    workspace_keyword_add(workspace=workspace, word="basta", kind="opt_out")
    response = api.post(URL, payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["field"] == field
    assert says in error["message"]
    assert WorkspaceKeyword.objects.filter(workspace=workspace).count() == 1


def test_removing_a_keyword_is_audited_and_answers_204(api, workspace):
    keyword = workspace_keyword_add(workspace=workspace, word="basta", kind="opt_out")
    response = delete(api, f"{URL}/{keyword.id}")
    assert response.status_code == 204
    assert not WorkspaceKeyword.objects.exists()
    [entry] = AuditEntry.objects.filter(workspace=workspace, action=AuditAction.KEYWORD_REMOVED)
    assert entry.actor_label.startswith("api key cpt_")
    assert entry.target == "keyword basta"
    again = delete(api, f"{URL}/{keyword.id}")
    assert again.status_code == 404
    assert again.json()["error"]["field"] == "keyword_id"


def test_another_workspaces_keyword_cannot_be_removed(api, other_workspace):
    theirs = workspace_keyword_add(workspace=other_workspace, word="basta", kind="opt_out")
    assert delete(api, f"{URL}/{theirs.id}").status_code == 404
    assert WorkspaceKeyword.objects.filter(id=theirs.id).exists()
    assert not AuditEntry.objects.filter(action=AuditAction.KEYWORD_REMOVED).exists()


def test_a_malformed_id_names_the_field(api):
    response = delete(api, f"{URL}/stop")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "keyword_id"


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_key_is_required(db, method):
    anonymous = ApiClient(None)
    path = f"{URL}/1" if method == "delete" else URL
    response = getattr(anonymous, method)(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
