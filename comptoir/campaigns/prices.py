"""What one SMS segment costs per destination country, as data (for cost estimates).

Indicative wholesale prices in euros, of the order French shops pay aggregators in
2025; an installation edits this table (or COMPTOIR_SEGMENT_PRICES, {"FR": 0.045, …})
to match its own contract. A country not listed costs DEFAULT_PRICE.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import phonenumbers
from django.conf import settings

CURRENCY: Final = "EUR"
DEFAULT_PRICE: Final = Decimal("0.080")
SEGMENT_PRICES: Final = MappingProxyType(
    {
        "FR": Decimal("0.045"),
        "BE": Decimal("0.065"),
        "CH": Decimal("0.060"),
        "LU": Decimal("0.060"),
        "DE": Decimal("0.075"),
        "ES": Decimal("0.055"),
        "IT": Decimal("0.065"),
        "GB": Decimal("0.035"),
        "US": Decimal("0.010"),
        "CA": Decimal("0.010"),
        "RE": Decimal("0.070"),
        "GP": Decimal("0.070"),
        "MQ": Decimal("0.070"),
    }
)


def segment_price(country: str) -> Decimal:
    overrides = getattr(settings, "COMPTOIR_SEGMENT_PRICES", None) or {}
    if country in overrides:
        return Decimal(str(overrides[country]))
    return SEGMENT_PRICES.get(country, DEFAULT_PRICE)


@lru_cache(maxsize=1024)
def country_of_prefix(prefix: str) -> str:
    """The main country of a number's first digits ("+336" → FR); "" when unknown.

    Prefixes are what SQL groups numbers by, so the cost of 100,000 numbers is a few
    groups, not 100,000 parses.
    """
    digits = prefix.lstrip("+")
    for size in (1, 2, 3):
        if len(digits) < size:
            break
        region = phonenumbers.region_code_for_country_code(int(digits[:size]))
        if region != "ZZ":
            return region
    return ""
