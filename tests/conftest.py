from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY

from comptoir.channels.models import Channel
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import api_key_create, staff_add, workspace_create

CHROMIUM = "/usr/bin/chromium"  # Debian's package; never a downloaded browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every browser test (Playwright allows one per thread)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def fresh_queue() -> None:
    """No wake-up flag or pending task leaks from one test into the next."""
    HUEY.flush()


@pytest.fixture
def workspace(db: None) -> Workspace:
    return workspace_create(name="Optique Test", region="FR")


@pytest.fixture
def other_workspace(db: None) -> Workspace:
    return workspace_create(name="Autre Boutique", region="FR")


@pytest.fixture
def channel(workspace: Workspace) -> Channel:
    return Channel.objects.get(workspace=workspace, provider="sandbox")


@pytest.fixture
def api_key(workspace: Workspace) -> str:
    return api_key_create(workspace=workspace)[1]


class ApiClient(Client):
    """A test client that speaks JSON with a Bearer key."""

    def __init__(self, key: str | None) -> None:
        super().__init__()
        self.key = key

    def _headers(self, extra: dict[str, Any]) -> dict[str, Any]:
        if self.key:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.key}")
        return extra

    def get(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().get(path, data, **self._headers(extra))

    def post(
        self,
        path: str,
        data: Any = None,
        content_type: str = "application/json",  # type: ignore[override]
        **extra: Any,
    ) -> Any:
        return super().post(path, data, content_type=content_type, **self._headers(extra))


@pytest.fixture
def api(api_key: str) -> ApiClient:
    return ApiClient(api_key)


@pytest.fixture
def staff_client(workspace: Workspace) -> Client:
    staff_add(workspace=workspace, username="anne", password="correct horse", role=Role.OWNER)
    client = Client()
    assert client.login(username="anne", password="correct horse")
    return client


def grant_marketing(workspace: Workspace, phones: list[str]) -> None:
    """Contacts for these numbers with a recorded marketing opt-in (as an import would)."""
    from comptoir.compliance.consent import consent_record
    from comptoir.contacts.phones import parse_phone
    from comptoir.contacts.services import contacts_for_phones

    parsed = [parse_phone(p, region=workspace.region) for p in phones]
    for contact in contacts_for_phones(workspace=workspace, phones=parsed).values():
        consent_record(contact=contact, purposes=["marketing"], action="granted", source="import")
