"""What a column can be imported as, and the guess made from its header (French or English)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.core.errors import ValidationError
from comptoir.imports.models import ImportKind

# A column kept as a custom attribute of the contact: "attr:<key>".
ATTRIBUTE_PREFIX = "attr:"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str | Promise
    kinds: tuple[str, ...]
    synonyms: tuple[str, ...]  # header names, lower case, without accents or punctuation


BOTH = (ImportKind.CONTACTS.value, ImportKind.PURCHASES.value)
PURCHASES = (ImportKind.PURCHASES.value,)

FIELDS: tuple[Field, ...] = (
    Field(
        "phone",
        _lazy("Phone"),
        BOTH,
        (
            "telephone",
            "tel",
            "portable",
            "mobile",
            "gsm",
            "phone",
            "phonenumber",
            "mobilephone",
            "cellphone",
            "cell",
            "numerodetelephone",
            "telportable",
            "telephoneportable",
            "telmobile",
            "numero",
        ),
    ),
    Field("first_name", _lazy("First name"), BOTH, ("prenom", "firstname", "givenname")),
    Field(
        "last_name",
        _lazy("Last name"),
        BOTH,
        ("nom", "nomdefamille", "lastname", "surname", "familyname", "name"),
    ),
    Field(
        "email",
        _lazy("Email"),
        BOTH,
        ("email", "mail", "courriel", "adresseemail", "adressemail", "emailaddress"),
    ),
    Field(
        "birthday",
        _lazy("Date of birth"),
        BOTH,
        (
            "datedenaissance",
            "naissance",
            "birthday",
            "dateofbirth",
            "birthdate",
            "dob",
            "anniversaire",
        ),
    ),
    Field("language", _lazy("Language"), BOTH, ("langue", "language", "lang")),
    Field(
        "consent_sms",
        _lazy("Consent to offers by SMS"),
        BOTH,
        ("consentementsms", "consentsms", "optinsms", "accordsms", "smsmarketing", "sms", "optin"),
    ),
    Field(
        "consent_email",
        _lazy("Consent to offers by email"),
        BOTH,
        ("consentementemail", "consentemail", "optinemail", "accordemail", "newsletter"),
    ),
    Field("tags", _lazy("Tags (comma-separated)"), BOTH, ("tags", "etiquettes", "tag")),
    Field(
        "purchased_on",
        _lazy("Purchase date"),
        PURCHASES,
        (
            "date",
            "dateachat",
            "datedachat",
            "datevente",
            "datedevente",
            "purchasedate",
            "dateticket",
        ),
    ),
    Field(
        "amount",
        _lazy("Amount"),
        PURCHASES,
        ("montant", "montantttc", "total", "totalttc", "amount", "prix", "prixttc", "price"),
    ),
    Field(
        "product_type",
        _lazy("Product type"),
        PURCHASES,
        ("type", "typeproduit", "typedeproduit", "producttype", "categorie", "famille", "article"),
    ),
    Field("material", _lazy("Material"), PURCHASES, ("matiere", "material", "metal")),
    Field("brand", _lazy("Brand"), PURCHASES, ("marque", "brand", "fabricant")),
    Field(
        "store",
        _lazy("Store"),
        PURCHASES,
        ("magasin", "boutique", "store", "shop", "pointdevente", "agence"),
    ),
    Field(
        "receipt",
        _lazy("Receipt number"),
        PURCHASES,
        (
            "ticket",
            "nticket",
            "ndeticket",
            "numeroticket",
            "numerodeticket",
            "noticket",
            "numticket",
            "recu",
            "receipt",
            "receiptid",
            "facture",
            "numerofacture",
            "nofacture",
            "invoice",
        ),
    ),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
REQUIRED = {
    ImportKind.CONTACTS.value: ("phone",),
    ImportKind.PURCHASES.value: ("phone", "purchased_on", "amount"),
}


def fields_for(kind: str) -> list[Field]:
    return [f for f in FIELDS if kind in f.kinds]


def normalise_header(text: str) -> str:
    """ "Téléphone portable" -> "telephoneportable": what synonyms are compared with."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def attribute_key(header: str) -> str:
    """A column kept as an attribute: "Carte fidélité" -> "carte_fidelite"."""
    decomposed = unicodedata.normalize("NFKD", header)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")[:40] or "column"


def suggest(header: Sequence[str], kind: str) -> list[str]:
    """A field for each column whose name is a known synonym, each field used once."""
    candidates = fields_for(kind)
    taken: set[str] = set()
    out = []
    for name in header:
        key = normalise_header(name)
        match = next(
            (
                f.name
                for f in candidates
                if f.name not in taken
                and (key in f.synonyms or any(key.startswith(s) for s in f.synonyms if len(s) > 4))
            ),
            "",
        )
        taken.add(match)
        out.append(match)
    return out


def validate_mapping(mapping: Sequence[str], header: Sequence[str], kind: str) -> list[str]:
    """The mapping, checked: one entry per column, known fields, each once, required ones.

    Raises ValidationError naming what is wrong.
    """
    if len(mapping) != len(header):
        raise ValidationError(
            _("The mapping has %(got)s columns; the file has %(want)s.")
            % {"got": len(mapping), "want": len(header)},
            field="mapping",
        )
    allowed = {f.name for f in fields_for(kind)}
    seen: dict[str, str] = {}
    for column, field in zip(header, mapping, strict=True):
        if not field:
            continue
        if field.startswith(ATTRIBUTE_PREFIX):
            if not re.fullmatch(r"[a-z0-9_]{1,40}", field.removeprefix(ATTRIBUTE_PREFIX)):
                raise ValidationError(
                    _("%(field)r: an attribute name is lower-case letters, digits and _.")
                    % {"field": field},
                    field="mapping",
                )
        elif field not in allowed:
            raise ValidationError(
                _("Column %(column)r cannot be imported as %(field)r in a %(kind)s import.")
                % {"column": column, "field": field, "kind": kind},
                field="mapping",
            )
        if field in seen:
            raise ValidationError(
                _("Columns %(first)r and %(second)r are both mapped to %(field)s.")
                % {"first": seen[field], "second": column, "field": _label(field)},
                field="mapping",
            )
        seen[field] = column
    missing = [_label(f) for f in REQUIRED[kind] if f not in seen]
    if missing:
        raise ValidationError(
            _("Choose the column for: %(fields)s.") % {"fields": ", ".join(missing)},
            field="mapping",
        )
    return list(mapping)


def _label(field: str) -> str:
    known = FIELDS_BY_NAME.get(field)
    return str(known.label) if known else field


def mapping_from_pairs(pairs: Sequence[str], header: Sequence[str], kind: str) -> list[str]:
    """`col=field` pairs (a header name or a 1-based column number) over the suggestion.

    `col=` leaves a column out; `col=attr` keeps it as an attribute named after the header.
    """
    mapping = suggest(header, kind)
    index = {normalise_header(h): i for i, h in enumerate(header)}
    for pair in pairs:
        column, sep, field = pair.partition("=")
        if not sep:
            raise ValidationError(
                _("%(pair)r: write a mapping as column=field.") % {"pair": pair}, field="mapping"
            )
        column, field = column.strip(), field.strip()
        position = int(column) - 1 if column.isdigit() else index.get(normalise_header(column))
        if position is None or not 0 <= position < len(header):
            raise ValidationError(
                _("%(column)r is not a column of the file (its columns: %(header)s).")
                % {"column": column, "header": ", ".join(header)},
                field="mapping",
            )
        if field == "attr":
            field = ATTRIBUTE_PREFIX + attribute_key(header[position])
        # The field moves to this column: the suggestion's column for it is cleared.
        mapping = ["" if f == field else f for f in mapping]
        mapping[position] = field
    return mapping
