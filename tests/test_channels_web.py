"""The channel set-up pages: owners add and change channels, secrets never come back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comptoir.channels.crypto import decrypt_secrets
from comptoir.channels.models import Channel, ChannelStatus
from comptoir.channels.services import channel_create, channel_update
from comptoir.compliance.audit import AuditAction
from comptoir.compliance.models import AuditEntry
from comptoir.core.errors import ValidationError
from comptoir.providers.base import ConfigField, Endpoint, ProviderType
from comptoir.providers.registry import provider_types
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add

TOKEN = "tok-9c1f7e2ab34d"  # an auth token: must never be in a page


class AccountType(ProviderType):
    """A provider with an account id, a secret token, and two webhooks."""

    code = "account"
    name = "Account SMS"
    endpoints = (
        Endpoint("receive", "Incoming texts"),
        Endpoint("status", "Delivery receipts"),
    )
    config_fields = (
        ConfigField("account_sid", "Account SID"),
        ConfigField("auth_token", "Auth token", secret=True),
        ConfigField("region", "Region", required=False, default="fr1"),
        ConfigField("window", "Window", required=False, default=10),
    )


@pytest.fixture(autouse=True)
def account_type(settings: Any) -> Iterator[None]:
    settings.COMPTOIR_PROVIDERS = [
        "comptoir.providers.sandbox.SandboxType",
        "tests.test_channels_web.AccountType",
    ]
    provider_types.cache_clear()
    yield
    provider_types.cache_clear()


@pytest.fixture
def agent_client(workspace: Workspace) -> Client:
    staff_add(workspace=workspace, username="bob", password="correct horse", role=Role.AGENT)
    client = Client()
    assert client.login(username="bob", password="correct horse")
    return client


def add_account(workspace: Workspace, **values: Any) -> Channel:
    return channel_create(
        workspace=workspace,
        provider="account",
        name=values.pop("name", "Twilio boutique"),
        address="+33612000001",
        config={"account_sid": "AC123"},
        secrets={"auth_token": TOKEN},
        **values,
    )


def form_data(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "Boutique SMS",
        "address": "+33612000002",
        "cfg_account_sid": "AC777",
        "cfg_auth_token": TOKEN,
        "cfg_region": "fr1",
        "cfg_window": "10",
        "rate_limit": "",
    }
    data.update(changes)
    return data


def test_list_shows_the_workspace_channels_with_status(
    staff_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    failing = add_account(workspace)
    Channel.objects.filter(id=failing.id).update(
        status=ChannelStatus.FAILING, status_reason="Bind refused: invalid password"
    )
    add_account(other_workspace, name="Ailleurs")
    page = staff_client.get(reverse("channels:list")).content.decode()
    assert "Twilio boutique" in page and "Sandbox" in page
    assert "Failing" in page and "Bind refused: invalid password" in page
    assert "Ailleurs" not in page
    assert reverse("channels:add", args=["account"]) in page
    assert TOKEN not in page


def test_list_queries_do_not_grow_with_channels(staff_client: Client, workspace: Workspace) -> None:
    staff_client.get(reverse("channels:list"))
    with CaptureQueriesContext(connection) as one:
        staff_client.get(reverse("channels:list"))
    for n in range(5):
        add_account(workspace, name=f"Canal {n}")
    with CaptureQueriesContext(connection) as six:
        assert staff_client.get(reverse("channels:list")).status_code == 200
    assert len(six) == len(one)


def test_add_form_is_generated_from_the_type(staff_client: Client) -> None:
    page = staff_client.get(reverse("channels:add", args=["account"])).content.decode()
    assert 'name="cfg_account_sid"' in page
    assert 'type="password" name="cfg_auth_token"' in page
    assert 'name="cfg_region" value="fr1"' in page
    assert 'type="number" name="cfg_window" value="10"' in page


def test_add_stores_secrets_encrypted_and_shows_the_hook_urls(
    staff_client: Client, workspace: Workspace
) -> None:
    response = staff_client.post(reverse("channels:add", args=["account"]), form_data())
    channel = Channel.objects.for_workspace(workspace).get(provider="account")
    assert response.status_code == 302
    assert response["Location"] == reverse("channels:edit", args=[channel.id])
    assert channel.config == {"account_sid": "AC777", "region": "fr1", "window": 10}
    assert TOKEN not in channel.secrets
    assert decrypt_secrets(channel.secrets)["auth_token"] == TOKEN
    assert channel.address == "+33612000002" and not channel.is_default
    page = staff_client.get(response["Location"]).content.decode()
    assert channel.hook_url("receive") in page and channel.hook_url("status") in page
    assert "Incoming texts" in page
    assert TOKEN not in page
    entry = AuditEntry.objects.get(action=AuditAction.CHANNEL_CREATED, target=str(channel.id))
    assert entry.actor_label == "staff anne" and entry.workspace_id == workspace.id
    assert TOKEN not in str(entry.details)


def test_add_refusals_name_the_field(staff_client: Client, workspace: Workspace) -> None:
    url = reverse("channels:add", args=["account"])
    page = staff_client.post(url, form_data(cfg_auth_token="")).content.decode()
    assert 'id="error-cfg_auth_token"' in page
    page = staff_client.post(url, form_data(cfg_account_sid="")).content.decode()
    assert 'id="error-cfg_account_sid"' in page
    page = staff_client.post(url, form_data(rate_limit="-3")).content.decode()
    assert 'id="error-rate_limit"' in page
    page = staff_client.post(url, form_data(name="  ")).content.decode()
    assert 'id="error-name"' in page
    assert TOKEN not in page  # not echoed back even when the form is shown again
    assert not Channel.objects.for_workspace(workspace).filter(provider="account").exists()


def test_service_refusal_lands_on_its_field(staff_client: Client, workspace: Workspace) -> None:
    # The form lets a required non-secret field through blank; the service names it.
    page = staff_client.post(
        reverse("channels:add", args=["account"]), form_data(cfg_region="", cfg_window="")
    )
    assert page.status_code == 302  # blank optional fields fall back to their defaults
    channel = Channel.objects.for_workspace(workspace).get(provider="account")
    assert channel.config["region"] == "fr1" and channel.config["window"] == 10


def test_edit_keeps_a_blank_secret_and_replaces_a_typed_one(
    staff_client: Client, workspace: Workspace
) -> None:
    channel = add_account(workspace)
    url = reverse("channels:edit", args=[channel.id])
    page = staff_client.get(url).content.decode()
    assert TOKEN not in page and "AC123" in page
    response = staff_client.post(url, form_data(cfg_auth_token="", rate_limit="25"))
    assert response.status_code == 302
    channel.refresh_from_db()
    assert decrypt_secrets(channel.secrets)["auth_token"] == TOKEN
    assert channel.config["account_sid"] == "AC777" and channel.rate_limit == 25
    entry = AuditEntry.objects.filter(action=AuditAction.CHANNEL_CHANGED).get()
    assert entry.details["secrets_changed"] == []
    assert "rate_limit" in entry.details["changed"]
    staff_client.post(url, form_data(cfg_auth_token="tok-new-5521ab"))
    channel.refresh_from_db()
    secrets = decrypt_secrets(channel.secrets)
    assert secrets["auth_token"] == "tok-new-5521ab" and secrets["webhook_secret"]
    last = (
        AuditEntry.objects.filter(action=AuditAction.CHANNEL_CHANGED).order_by("-at", "-id").first()
    )
    assert last is not None and last.details["secrets_changed"] == ["auth_token"]
    assert "tok-new" not in str(last.details)


def test_edit_without_change_audits_nothing(staff_client: Client, workspace: Workspace) -> None:
    channel = add_account(workspace)
    data = form_data(
        name=channel.name, address=channel.address, cfg_account_sid="AC123", cfg_auth_token=""
    )
    staff_client.post(reverse("channels:edit", args=[channel.id]), data)
    assert not AuditEntry.objects.filter(action=AuditAction.CHANNEL_CHANGED).exists()


def test_other_workspace_channel_is_404(staff_client: Client, other_workspace: Workspace) -> None:
    foreign = add_account(other_workspace)
    url = reverse("channels:edit", args=[foreign.id])
    assert staff_client.get(url).status_code == 404
    assert staff_client.post(url, form_data(cfg_auth_token="tok-stolen-000")).status_code == 404
    foreign.refresh_from_db()
    assert decrypt_secrets(foreign.secrets)["auth_token"] == TOKEN


def test_unknown_provider_is_404(staff_client: Client) -> None:
    assert staff_client.get(reverse("channels:add", args=["carrier-pigeon"])).status_code == 404


@pytest.mark.parametrize("page", ["list", "add", "edit"])
def test_agents_get_403(agent_client: Client, workspace: Workspace, page: str) -> None:
    args = [add_account(workspace).id] if page == "edit" else ["account"] if page == "add" else []
    url = reverse(f"channels:{page}", args=args)
    assert agent_client.get(url).status_code == 403
    assert agent_client.post(url, form_data()).status_code == 403
    assert Channel.objects.for_workspace(workspace).filter(provider="account").count() == (
        1 if page == "edit" else 0
    )


def test_signed_out_goes_to_login(db: None) -> None:
    response = Client().get(reverse("channels:list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_owner_nav_links_to_channels(staff_client: Client, agent_client: Client) -> None:
    owner_page = staff_client.get(reverse("web:home")).content.decode()
    assert reverse("channels:list") in owner_page
    assert reverse("channels:list") not in agent_client.get(reverse("web:home")).content.decode()


def test_add_sandbox_channel_with_defaults(staff_client: Client, workspace: Workspace) -> None:
    response = staff_client.post(
        reverse("channels:add", args=["sandbox"]),
        {"name": "Bac à sable 2", "address": "", "cfg_receipt_delay": "0.5"},
    )
    assert response.status_code == 302
    channel = Channel.objects.for_workspace(workspace).get(name="Bac à sable 2")
    assert channel.address == "+33639980001"
    assert channel.config == {"receipt_delay": 0.5, "fail_rate": 0.0, "throttle_per_second": 0}


def test_backup_is_chosen_among_the_workspace_channels(
    staff_client: Client, workspace: Workspace, other_workspace: Workspace, channel: Channel
) -> None:
    primary = add_account(workspace)
    foreign = add_account(other_workspace, name="Ailleurs")
    url = reverse("channels:edit", args=[primary.id])
    page = staff_client.get(url).content.decode()
    assert f'value="{channel.id}"' in page and f'value="{foreign.id}"' not in page
    assert f'value="{primary.id}"' not in page  # not its own backup
    refused = staff_client.post(url, form_data(backup=str(foreign.id), cfg_auth_token=""))
    assert 'id="error-backup"' in refused.content.decode()
    primary.refresh_from_db()
    assert primary.backup_id is None
    assert staff_client.post(url, form_data(backup=str(channel.id))).status_code == 302
    primary.refresh_from_db()
    assert primary.backup_id == channel.id
    entry = AuditEntry.objects.filter(
        action=AuditAction.CHANNEL_CHANGED, target=str(primary.id)
    ).get()
    assert "backup" in entry.details["changed"]
    listing = staff_client.get(reverse("channels:list")).content.decode()
    assert f"<td>{channel.name}</td>" in listing


def test_service_refuses_a_foreign_or_own_backup(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    primary = add_account(workspace)
    foreign = add_account(other_workspace, name="Ailleurs")
    values: dict[str, Any] = {
        "name": "x",
        "address": "",
        "config": {},
        "secrets": {},
        "rate_limit": None,
    }
    for backup in (foreign, primary):
        with pytest.raises(ValidationError) as caught:
            channel_update(channel=primary, backup=backup, **values)
        assert caught.value.field == "backup"
