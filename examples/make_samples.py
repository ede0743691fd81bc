"""Write the sample point-of-sale exports of examples/ (run: python examples/make_samples.py).

- pos-export-bijouterie.csv: the till's sales export of "Bijouterie Optique Lumière", a
  French optician and jeweller: Windows-1252, `;`, French dates and amounts ("1 234,50"),
  one line per item sold with its customer, ~200 lines, some customers coming back.
- clients.xlsx: a small customer list kept in a spreadsheet: real Excel dates, mobile
  numbers typed as numbers (Excel dropped their leading 0), a ticked box for consent.

Deterministic (a fixed seed): the files only change when this script does. Numbers are in
the 06 12 35 xx xx range (valid for `phonenumbers`, apart from the demo's 06 12 34).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSV_NAME = "pos-export-bijouterie.csv"
XLSX_NAME = "clients.xlsx"

FIRST = [
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Zoé", "Hélène", "Agnès",
    "Hugo", "Lucas", "Loïc", "Gaël", "Jérôme", "Noël", "François", "Benoît", "Élodie", "Maëlle",
]  # fmt: skip
LAST = [
    "Martin", "Bernard", "Dubois", "Lefèvre", "Leroy", "Moreau", "Girard", "André", "Mercier",
    "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Hénault", "Bélanger", "Châtelet",
]  # fmt: skip
# Product type, materials, brands, price range in euros.
PRODUCTS = [
    ("bague", ["or", "or blanc", "argent", "plaqué or"], ["Maison Lumière", "Pandora"], (59, 1890)),
    ("collier", ["or", "argent", "plaqué or"], ["Maison Lumière", "Pandora"], (45, 1450)),
    ("bracelet", ["or", "argent", "acier"], ["Pandora", "Thomas Sabo"], (39, 980)),
    ("boucles d'oreilles", ["or", "argent"], ["Maison Lumière"], (29, 760)),
    ("montre", ["acier", "titane", "or"], ["Seiko", "Tissot", "Lip"], (129, 2450)),
    ("monture", ["acétate", "titane", "métal"], ["Lafont", "Ray-Ban", "Silhouette"], (89, 320)),
    ("lunettes de soleil", ["acétate", "métal"], ["Ray-Ban", "Persol"], (95, 280)),
]
STORES = ["Lyon Presqu'île", "Villeurbanne"]
HEADER = [
    "N° ticket",
    "Date",
    "Nom",
    "Prénom",
    "Téléphone",
    "Email",
    "Date de naissance",
    "Consentement SMS",
    "Type",
    "Matière",
    "Marque",
    "Magasin",
    "Montant TTC",
]


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _euros(value: Decimal) -> str:
    """1234.5 -> "1 234,50", as French tills print it."""
    whole, cents = f"{value:.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return " ".join(groups) + "," + cents


def customers(rng: random.Random, count: int, offset: int = 0) -> list[dict[str, str]]:
    """`count` people; numbers from 06 12 35 00 00 + offset."""
    people = []
    for index in range(offset, offset + count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        consent = rng.choices(["oui", "non", ""], weights=[80, 12, 8])[0]
        people.append(
            {
                "first": first,
                "last": last,
                "phone": f"06 12 35 {index // 100:02d} {index % 100:02d}",
                "email": f"{_plain(first)}.{_plain(last)}{index}@example.fr"
                if rng.random() < 0.7
                else "",
                "birthday": dt.date(
                    rng.randint(1945, 2004), rng.randint(1, 12), rng.randint(1, 28)
                ).strftime("%d/%m/%Y")
                if rng.random() < 0.6
                else "",
                "consent": consent,
            }
        )
    return people


def sales_rows(rng: random.Random, lines: int = 200) -> list[list[str]]:
    people = customers(rng, 120)
    start = dt.date(2022, 1, 3)
    rows = []
    ticket = 41_000
    while len(rows) < lines:
        ticket += 1
        person = rng.choice(people)
        day = start + dt.timedelta(days=rng.randint(0, 3 * 365))
        store = rng.choice(STORES)
        for _ in range(rng.choice((1, 1, 1, 2))):  # a ticket of one or two items
            product, materials, brands, (low, high) = rng.choice(PRODUCTS)
            amount = Decimal(rng.randint(low * 100, high * 100)) / 100
            rows.append(
                [
                    f"T{ticket}",
                    day.strftime("%d/%m/%Y"),
                    person["last"],
                    person["first"],
                    person["phone"],
                    person["email"],
                    person["birthday"],
                    person["consent"],
                    product,
                    rng.choice(materials),
                    rng.choice(brands),
                    store,
                    _euros(amount),
                ]
            )
    rows = rows[:lines]
    rows.sort(key=lambda r: (r[1][6:], r[1][3:5], r[1][:2], r[0]))  # oldest first, as tills do
    return rows


def write_csv(path: Path, rng: random.Random) -> None:
    with path.open("w", encoding="cp1252", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(sales_rows(rng))


def write_xlsx(path: Path, rng: random.Random) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Clients"
    sheet.append(
        ["Prénom", "Nom", "Portable", "E-mail", "Date de naissance", "SMS", "Carte fidélité"]
    )
    for index, person in enumerate(customers(rng, 20, offset=500)):
        number = person["phone"].replace(" ", "")
        sheet.append(
            [
                person["first"],
                person["last"],
                # Half typed as numbers: what Excel keeps of 06… is 6…
                int(number) if index % 2 else person["phone"],
                person["email"] or None,
                dt.datetime.strptime(person["birthday"], "%d/%m/%Y")
                if person["birthday"]
                else None,
                "x" if person["consent"] == "oui" else None,
                20_000 + index,
            ]
        )
    book.save(path)


def main(target: Path = HERE) -> None:
    write_csv(target / CSV_NAME, random.Random(2024))
    write_xlsx(target / XLSX_NAME, random.Random(2025))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
