"""Workspaces, staff and API keys: creation, defaults, hashed keys, authentication."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.core.errors import ValidationError
from comptoir.workspaces.models import ApiKey, Membership, Role, Workspace, hash_api_key
from comptoir.workspaces.services import (
    api_key_authenticate,
    api_key_create,
    staff_add,
    workspace_create,
)


@pytest.mark.parametrize(
    ("region", "stored", "tz", "language"),
    [
        ("FR", "FR", "Europe/Paris", "fr"),
        ("fr", "FR", "Europe/Paris", "fr"),
        ("US", "US", "America/New_York", "en"),
        ("VN", "VN", "Asia/Ho_Chi_Minh", "vi"),
        ("DE", "DE", "UTC", "en"),  # a region without defaults of its own
    ],
)
def test_workspace_create_defaults_by_region(db, region, stored, tz, language):
    workspace = workspace_create(name="  Bijouterie Or  ", region=region)
    workspace.refresh_from_db()
    assert workspace.name == "Bijouterie Or"
    assert (workspace.region, workspace.timezone, workspace.language) == (stored, tz, language)


def test_workspace_create_makes_a_default_sandbox_channel(db):
    workspace = workspace_create(name="Bijouterie Or", region="FR")
    channel = Channel.objects.get(workspace=workspace)
    assert (channel.provider, channel.scheme, channel.is_default) == ("sandbox", "sms", True)
    assert channel.address
    assert "webhook_secret" in channel.as_config().secrets
    assert "webhook_secret" not in channel.secrets  # encrypted at rest


def test_workspace_create_with_a_time_zone_and_language(db):
    workspace = workspace_create(
        name="Boutique", region="CA", timezone_name="America/Montreal", language="fr"
    )
    assert (workspace.timezone, workspace.language) == ("America/Montreal", "fr")
    assert workspace.tz.key == "America/Montreal"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "region": "FR"}, "name"),
        ({"name": "   ", "region": "FR"}, "name"),
        ({"name": "N" * 201, "region": "FR"}, "name"),
        ({"name": "Boutique", "region": "XX"}, "region"),
        ({"name": "Boutique", "region": "FRA"}, "region"),
        ({"name": "Boutique", "region": ""}, "region"),
        ({"name": "Boutique", "region": "FR", "timezone_name": "Europe/Lyon"}, "timezone"),
    ],
)
def test_workspace_create_bad_input(db, kwargs, field):
    with pytest.raises(ValidationError) as info:
        workspace_create(**kwargs)
    assert info.value.field == field
    assert info.value.message
    assert not Workspace.objects.exists()
    assert not Channel.objects.exists()


def test_segment_cap(db, settings):
    workspace = workspace_create(name="Boutique")
    settings.COMPTOIR_MAX_SEGMENTS = 6
    assert workspace.segment_cap == 6
    workspace.max_segments = 3
    assert workspace.segment_cap == 3


def test_api_key_is_stored_hashed_with_its_prefix(workspace):
    key, raw = api_key_create(workspace=workspace, name="caisse")
    assert raw.startswith("cpt_")
    assert len(raw) > 40
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert all(raw not in str(value) for value in row.values())
    assert row["key_hash"] == hash_api_key(raw) != raw
    assert row["prefix"] == raw[:10]
    assert row["name"] == "caisse"
    assert "cpt_" in str(key) and raw not in str(key)


def test_api_keys_are_unique(workspace):
    raws = {api_key_create(workspace=workspace)[1] for _ in range(5)}
    assert len(raws) == 5
    assert ApiKey.objects.values("key_hash").distinct().count() == 5


def test_api_key_authenticate(workspace, other_workspace):
    key, raw = api_key_create(workspace=workspace)
    api_key_create(workspace=other_workspace)
    found = api_key_authenticate(raw)
    assert found is not None
    assert (found.pk, found.workspace) == (key.pk, workspace)
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize("raw", ["", "cpt_", "cpt_nope", "Bearer x"])
def test_api_key_authenticate_unknown(workspace, raw):
    api_key_create(workspace=workspace)
    assert api_key_authenticate(raw) is None


def test_revoked_key_does_not_authenticate(workspace):
    key, raw = api_key_create(workspace=workspace)
    key.revoked_at = timezone.now()
    key.save()
    assert api_key_authenticate(raw) is None


def test_last_used_is_touched_at_most_once_a_minute(workspace, django_assert_num_queries):
    _, raw = api_key_create(workspace=workspace)
    with django_assert_num_queries(2):  # read, then touch
        api_key_authenticate(raw)
    with django_assert_num_queries(1):  # read only
        api_key_authenticate(raw)


def test_staff_add_with_roles(workspace, other_workspace):
    user = staff_add(
        workspace=workspace, username="anne", password="correct horse", role=Role.OWNER
    )
    staff_add(workspace=other_workspace, username="anne", password="ignored")
    staff_add(workspace=workspace, username="bob", password="battery staple")
    assert user.check_password("correct horse")
    assert get_user_model().objects.count() == 2
    roles = dict(Membership.objects.filter(user=user).values_list("workspace__name", "role"))
    assert roles == {"Optique Test": "owner", "Autre Boutique": "agent"}
    staff_add(workspace=workspace, username="bob", password="x", role=Role.OWNER)
    assert Membership.objects.get(workspace=workspace, user__username="bob").role == "owner"
