"""Writes on workspaces, staff and API keys."""

from __future__ import annotations

import zoneinfo

import phonenumbers
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from comptoir.channels.services import channel_create
from comptoir.core.errors import ValidationError
from comptoir.workspaces.models import ApiKey, Membership, Role, Workspace, hash_api_key

# A sensible time zone and language for a new workspace of a region (overridable).
REGION_DEFAULTS = {
    "FR": ("Europe/Paris", "fr"),
    "BE": ("Europe/Brussels", "fr"),
    "CH": ("Europe/Zurich", "fr"),
    "CA": ("America/Toronto", "en"),
    "US": ("America/New_York", "en"),
    "GB": ("Europe/London", "en"),
    "VN": ("Asia/Ho_Chi_Minh", "vi"),
}


def workspace_create(
    *, name: str, region: str = "FR", timezone_name: str | None = None, language: str | None = None
) -> Workspace:
    """Create a workspace with its sandbox channel, ready to send."""
    name = name.strip()
    if not name:
        raise ValidationError("A workspace needs a name.", field="name")
    longest = Workspace._meta.get_field("name").max_length or 200
    if len(name) > longest:
        raise ValidationError(f"A workspace name is at most {longest} characters.", field="name")
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"Unknown region {region!r}: use an ISO code like FR.", field="region"
        )
    default_tz, default_language = REGION_DEFAULTS.get(region, ("UTC", "en"))
    tz = timezone_name or default_tz
    if tz not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {tz!r}.", field="timezone")
    with transaction.atomic():
        workspace = Workspace.objects.create(
            name=name, region=region, timezone=tz, language=language or default_language
        )
        channel_create(workspace=workspace, provider="sandbox", name="Sandbox")
    return workspace


def api_key_create(*, workspace: Workspace, name: str = "default") -> tuple[ApiKey, str]:
    """Create an API key; the raw key is returned once and only its hash is kept."""
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        workspace=workspace, name=name, prefix=raw[:10], key_hash=hash_api_key(raw)
    )
    return key, raw


def api_key_authenticate(raw: str) -> ApiKey | None:
    key = (
        ApiKey.objects.select_related("workspace")
        .filter(key_hash=hash_api_key(raw), revoked_at__isnull=True)
        .first()
    )
    if key is not None and (
        key.last_used_at is None or (timezone.now() - key.last_used_at).total_seconds() > 60
    ):
        # Touch at most once a minute so a busy integration does not write on every call.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def staff_add(
    *, workspace: Workspace, username: str, password: str, role: Role = Role.AGENT, email: str = ""
) -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_user(username=username, password=password, email=email)
    Membership.objects.update_or_create(workspace=workspace, user=user, defaults={"role": role})
    return user
