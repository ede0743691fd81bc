"""Provider types, loaded from the COMPTOIR_PROVIDERS setting."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from comptoir.providers.base import ProviderType


class UnknownProvider(LookupError):
    pass


@cache
def provider_types() -> dict[str, ProviderType]:
    types: dict[str, ProviderType] = {}
    for path in settings.COMPTOIR_PROVIDERS:
        cls = import_string(path)
        types[cls.code] = cls()
    return types


def provider_type(code: str) -> ProviderType:
    try:
        return provider_types()[code]
    except KeyError:
        raise UnknownProvider(f"provider {code!r} is not enabled (COMPTOIR_PROVIDERS)") from None
