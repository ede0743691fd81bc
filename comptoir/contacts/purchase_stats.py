"""A contact's attributes derived from their purchases, computed by the database.

`contacts_with_purchase_stats(qs)` annotates any contact query set with:

- `last_purchase_on`  the date of the latest purchase (None without purchases);
- `total_spent`       the sum of the amounts (0 without purchases; refunds count negative);
- `purchase_count`    the number of purchases;
- `favourite_product_type`  the product type bought most often ("" without purchases),
  ties going to the larger total spent, then the latest bought, then alphabetical.

Each is a correlated subquery on Purchase (indexed by contact), so they stay right
whatever wrote the purchases (an import, the API, an automation) and compose with any
filter without multiplying rows: a segment filters on them like on columns, e.g.
`contacts_with_purchase_stats(qs).filter(total_spent__gt=500, last_purchase_on__lt=day)`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import (
    CharField,
    Count,
    DateField,
    DecimalField,
    IntegerField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from comptoir.contacts.models import Contact, Purchase

MONEY = DecimalField(max_digits=12, decimal_places=2)


def _of_contact() -> QuerySet[Purchase]:
    return Purchase.objects.filter(contact=OuterRef("pk")).order_by()


def contacts_with_purchase_stats(qs: QuerySet[Contact] | Any) -> QuerySet[Contact]:
    """The contacts of `qs` with last_purchase_on, total_spent, purchase_count and
    favourite_product_type (see the module's docstring), computed in SQL."""
    per_contact = _of_contact().values("contact")
    favourite = (
        _of_contact()
        .exclude(product_type="")
        .values("product_type")
        .annotate(n=Count("id"), spent=Sum("amount"), last=Max("purchased_on"))
        .order_by("-n", "-spent", "-last", "product_type")
        .values("product_type")[:1]
    )
    return qs.annotate(
        last_purchase_on=Subquery(
            per_contact.annotate(last=Max("purchased_on")).values("last"),
            output_field=DateField(),
        ),
        total_spent=Coalesce(
            Subquery(per_contact.annotate(total=Sum("amount")).values("total"), output_field=MONEY),
            Value(Decimal("0.00")),
            output_field=MONEY,
        ),
        purchase_count=Coalesce(
            Subquery(per_contact.annotate(n=Count("id")).values("n"), output_field=IntegerField()),
            Value(0),
            output_field=IntegerField(),
        ),
        favourite_product_type=Coalesce(
            Subquery(favourite, output_field=CharField()), Value(""), output_field=CharField()
        ),
    )
