"""Imports of contacts and purchases: the shipped samples, idempotence, consent, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from comptoir.compliance.consent import consent_record
from comptoir.compliance.decisions import Candidate
from comptoir.compliance.gdpr import contact_erase, rule_suppressed
from comptoir.compliance.models import ConsentEvent
from comptoir.contacts.models import Contact, Purchase
from comptoir.contacts.purchase_stats import contacts_with_purchase_stats
from comptoir.core.errors import ValidationError
from comptoir.imports import files, services
from comptoir.imports.mapping import mapping_from_pairs, suggest
from comptoir.imports.models import ImportJob, ImportStatus
from comptoir.imports.services import import_configure, import_run, import_upload
from comptoir.imports.values import CellError, parse_amount, parse_consent, parse_date

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLE_CSV = EXAMPLES / "pos-export-bijouterie.csv"
SAMPLE_XLSX = EXAMPLES / "clients.xlsx"
CONTACTS_HEADER = "Téléphone;Prénom;Nom;Email;Consentement SMS\r\n"


@pytest.fixture(autouse=True)
def import_folder(tmp_path, monkeypatch):
    """Uploaded files are kept in the test's own folder, deleted with it."""
    monkeypatch.setattr(files, "VAR_DIR", tmp_path / "var")


def run_import(
    workspace,
    path: Path,
    *,
    kind: str = "contacts",
    mode: str = "all_or_nothing",
    pairs: tuple[str, ...] = (),
    commit: bool = True,
    delimiter: str = "",
) -> ImportJob:
    with path.open("rb") as source:
        job = import_upload(
            workspace=workspace, kind=kind, source=source, name=path.name, delimiter=delimiter
        )
    mapping = mapping_from_pairs(list(pairs), job.header, kind)
    import_configure(job=job, mapping=mapping, mode=mode, commit=commit)
    return import_run(job_id=job.id)


def errors_of(job: ImportJob) -> list[tuple[int, str, str]]:
    return list(job.errors.order_by("row", "id").values_list("row", "column", "reason"))


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def sample_lines() -> list[dict[str, str]]:
    with SAMPLE_CSV.open(encoding="cp1252", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def amount(text: str) -> Decimal:
    return Decimal(text.replace(" ", "").replace(",", "."))


# -- the shipped samples -------------------------------------------------------------------


def test_the_sample_files_are_what_the_script_writes(tmp_path):
    """examples/ holds the script's output: regenerate both and compare."""
    from examples import make_samples

    make_samples.main(tmp_path)
    assert (tmp_path / "pos-export-bijouterie.csv").read_bytes() == SAMPLE_CSV.read_bytes()
    lines = sample_lines()
    assert 190 <= len(lines) <= 210
    assert SAMPLE_CSV.read_bytes().count(b"\xe9") > 0  # é in Windows-1252, not UTF-8


def test_the_sample_pos_export_imports_purchases_contacts_and_consent(workspace):
    job = run_import(workspace, SAMPLE_CSV, kind="purchases")
    assert job.status == ImportStatus.DONE, (job.failure, errors_of(job)[:5])
    assert (job.encoding, job.delimiter, job.rows_invalid) == ("cp1252", ";", 0)
    assert job.mapping == [
        "receipt",
        "purchased_on",
        "last_name",
        "first_name",
        "phone",
        "email",
        "birthday",
        "consent_sms",
        "product_type",
        "material",
        "brand",
        "store",
        "amount",
    ]
    lines = sample_lines()
    phones = {line["Téléphone"] for line in lines}
    assert Contact.objects.for_workspace(workspace).count() == len(phones)
    assert Purchase.objects.for_workspace(workspace).count() == len(lines)
    assert job.summary["contacts_created"] == len(phones)
    assert job.summary["purchases_created"] == len(lines)
    someone = lines[0]
    contact = Contact.objects.get(
        workspace=workspace, phone="+33" + someone["Téléphone"][1:].replace(" ", "")
    )
    assert (contact.first_name, contact.last_name) == (someone["Prénom"], someone["Nom"])
    # Consent: a "oui" is a grant; a "non" with nothing on record writes nothing.
    last_answer = {line["Téléphone"]: line["Consentement SMS"] for line in lines}
    granted = ConsentEvent.objects.filter(workspace=workspace, action="granted", source="import")
    assert granted.count() == sum(1 for v in last_answer.values() if v == "oui")
    assert not ConsentEvent.objects.filter(workspace=workspace, action="revoked").exists()


def test_derived_attributes_match_the_file(workspace):
    run_import(workspace, SAMPLE_CSV, kind="purchases")
    by_phone: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in sample_lines():
        by_phone["+33" + line["Téléphone"][1:].replace(" ", "")].append(line)
    stats = {
        c.phone: c for c in contacts_with_purchase_stats(Contact.objects.for_workspace(workspace))
    }
    for phone, lines in by_phone.items():
        contact = stats[phone]
        dates = [dt.datetime.strptime(line["Date"], "%d/%m/%Y").date() for line in lines]
        assert contact.last_purchase_on == max(dates)
        assert contact.total_spent == sum(amount(line["Montant TTC"]) for line in lines)
        assert contact.purchase_count == len(lines)
        counts = Counter(line["Type"] for line in lines)
        top = max(counts.values())
        assert counts[contact.favourite_product_type] == top
    # Usable as a filter, like a column (what segments do).
    big = contacts_with_purchase_stats(Contact.objects.for_workspace(workspace)).filter(
        total_spent__gt=1000
    )
    assert big.count() == sum(
        1 for lines in by_phone.values() if sum(amount(x["Montant TTC"]) for x in lines) > 1000
    )


def test_a_contact_without_purchases_has_empty_stats(workspace):
    Contact.objects.create(workspace=workspace, phone="+33612345678")
    contact = contacts_with_purchase_stats(Contact.objects.for_workspace(workspace)).get()
    assert (contact.last_purchase_on, contact.total_spent, contact.purchase_count) == (
        None,
        Decimal("0"),
        0,
    )
    assert contact.favourite_product_type == ""


def test_the_sample_workbook_imports_numbers_excel_took_for_numbers(workspace):
    job = run_import(workspace, SAMPLE_XLSX, pairs=("Carte fidélité=attr",))
    assert job.status == ImportStatus.DONE, errors_of(job)
    assert job.file_format == "xlsx"
    contacts = Contact.objects.for_workspace(workspace)
    assert contacts.count() == 20
    assert set(contacts.values_list("phone", flat=True)) == {
        f"+3361235{500 + i:04d}" for i in range(20)
    }
    first = contacts.get(phone="+33612350500")
    assert first.attributes == {"carte_fidelite": "20000"}
    assert all(c.birthday is None or c.birthday.year >= 1945 for c in contacts)


# -- idempotence and consent -----------------------------------------------------------------


def snapshot(workspace) -> tuple:
    return (
        sorted(
            Contact.objects.for_workspace(workspace).values_list(
                "phone", "first_name", "updated_at"
            )
        ),
        sorted(Purchase.objects.for_workspace(workspace).values_list("id", flat=True)),
        ConsentEvent.objects.filter(workspace=workspace).count(),
    )


def test_the_same_file_twice_changes_nothing(workspace):
    run_import(workspace, SAMPLE_CSV, kind="purchases")
    before = snapshot(workspace)
    again = run_import(workspace, SAMPLE_CSV, kind="purchases")
    assert again.status == ImportStatus.DONE
    assert snapshot(workspace) == before
    assert again.summary["contacts_created"] == 0
    assert again.summary["contacts_updated"] == 0
    assert again.summary["purchases_created"] == 0
    assert again.summary["purchases_existing"] == len(sample_lines())
    assert "consent_granted" not in again.summary


def test_identical_lines_are_two_purchases_and_stay_two(workspace, tmp_path):
    text = "Téléphone;Date;Montant;Type\r\n" + "06 12 34 56 78;02/03/2024;89,00;étui\r\n" * 2
    path = write(tmp_path, "twice.csv", text)
    run_import(workspace, path, kind="purchases")
    run_import(workspace, path, kind="purchases")
    assert Purchase.objects.for_workspace(workspace).count() == 2


def test_consent_is_recorded_with_the_file_and_row_as_proof(workspace, tmp_path):
    path = write(tmp_path, "clients.csv", CONTACTS_HEADER + "0612345678;Anne;Roux;;oui\r\n")
    job = run_import(workspace, path)
    event = ConsentEvent.objects.get(workspace=workspace)
    assert (event.purpose, event.action, event.source, event.channel) == (
        "marketing",
        "granted",
        "import",
        "sms",
    )
    assert event.proof == {
        "file": "clients.csv",
        "sha256": job.file_sha256,
        "row": 2,
        "column": "Consentement SMS",
        "value": "oui",
        "import_job": str(job.id),
    }


def test_a_no_revokes_a_grant_once_and_a_stop_is_never_undone(workspace, tmp_path):
    yes = write(tmp_path, "yes.csv", CONTACTS_HEADER + "0612345678;Anne;Roux;;x\r\n")
    no = write(tmp_path, "no.csv", CONTACTS_HEADER + "0612345678;Anne;Roux;;non\r\n")
    run_import(workspace, yes)
    run_import(workspace, no)
    run_import(workspace, no)
    actions = list(ConsentEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["granted", "revoked"]
    job = run_import(workspace, yes)  # an old file saying yes does not undo the "no"
    assert list(ConsentEvent.objects.order_by("id").values_list("action", flat=True)) == actions
    assert job.summary["notes"][0]["row"] == 2
    assert "withdrew" in job.summary["notes"][0]["reason"]
    contact = Contact.objects.get(workspace=workspace)
    consent_record(contact=contact, purposes=["marketing"], action="granted", source="keyword")
    consent_record(contact=contact, purposes=["marketing"], action="revoked", source="keyword")
    run_import(workspace, yes)
    assert ConsentEvent.objects.filter(contact=contact).order_by("-id")[0].source == "keyword"


def test_an_erased_number_imported_again_gets_no_consent(workspace, tmp_path):
    path = write(tmp_path, "clients.csv", CONTACTS_HEADER + "0612345678;Anne;Roux;;oui\r\n")
    run_import(workspace, path)
    contact = Contact.objects.get(workspace=workspace)
    contact_erase(workspace=workspace, contact_id=contact.id)
    job = run_import(workspace, path)
    assert job.status == ImportStatus.DONE
    again = Contact.objects.get(workspace=workspace)
    assert not ConsentEvent.objects.filter(contact=again).exists()
    assert job.summary["consent_not_recorded"] == 1
    assert "erased" in job.summary["notes"][0]["reason"]
    candidate = Candidate(
        key=1, scheme="tel", number_type="mobile", purpose="marketing",
        phone=again.phone, workspace_id=workspace.id,
    )  # fmt: skip
    assert rule_suppressed([candidate])  # and the sending rule still refuses it


def test_a_blank_cell_erases_nothing_and_a_new_value_updates(workspace, tmp_path):
    first = write(tmp_path, "a.csv", CONTACTS_HEADER + "0612345678;Anne;Roux;anne@example.fr;\r\n")
    second = write(tmp_path, "b.csv", CONTACTS_HEADER + "0612345678;Annie;;;\r\n")
    run_import(workspace, first)
    job = run_import(workspace, second)
    contact = Contact.objects.get(workspace=workspace)
    assert (contact.first_name, contact.last_name, contact.email) == (
        "Annie",
        "Roux",
        "anne@example.fr",
    )
    assert job.summary["contacts_updated"] == 1


def test_imports_stay_in_their_workspace(workspace, other_workspace, tmp_path):
    path = write(tmp_path, "c.csv", CONTACTS_HEADER + "0612345678;Anne;Roux;;oui\r\n")
    run_import(workspace, path)
    run_import(other_workspace, path)
    assert Contact.objects.filter(phone="+33612345678").count() == 2
    assert ConsentEvent.objects.filter(source="import").count() == 2


# -- bad input ---------------------------------------------------------------------------------


def test_the_wrong_delimiter_is_named(workspace, tmp_path):
    path = write(tmp_path, "comma.csv", "Téléphone,Prénom,Nom\r\n0612345678,Anne,Roux\r\n")
    with pytest.raises(ValidationError) as caught:
        run_import(workspace, path, delimiter=";")
    assert "comma" in caught.value.message and caught.value.field == "delimiter"
    assert not list((services.import_root() / str(workspace.id)).glob("*"))  # file not kept
    job = run_import(workspace, path)  # sniffed right
    assert (job.delimiter, job.status) == (",", ImportStatus.DONE)


def test_a_bom_is_not_part_of_the_first_column(workspace, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "Téléphone;Prénom\r\n0612345678;Éloïse\r\n".encode())
    job = run_import(workspace, path)
    assert job.header == ["Téléphone", "Prénom"] and job.encoding == "utf-8"
    assert Contact.objects.get(workspace=workspace).first_name == "Éloïse"


def test_windows_1252_is_detected(workspace, tmp_path):
    path = write(tmp_path, "w.csv", "Téléphone;Prénom\r\n0612345678;Gaëlle\r\n", "cp1252")
    job = run_import(workspace, path)
    assert job.encoding == "cp1252"
    assert Contact.objects.get(workspace=workspace).first_name == "Gaëlle"


def test_a_tab_separated_file_and_iso_dates(workspace, tmp_path):
    text = "Phone\tDate\tAmount\tStore\n+33612345678\t2024-12-31\t1234.50\tLyon\n"
    job = run_import(workspace, write(tmp_path, "t.tsv", text), kind="purchases")
    assert job.delimiter == "\t"
    purchase = Purchase.objects.get(workspace=workspace)
    assert (purchase.purchased_on, purchase.amount, purchase.store) == (
        dt.date(2024, 12, 31),
        Decimal("1234.50"),
        "Lyon",
    )


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(workspace, tmp_path):
    text = CONTACTS_HEADER + "\r\n0612345678;Anne;;;\r\n;;;;\r\n\r\npas de tel;Paul;;;\r\n"
    job = run_import(workspace, write(tmp_path, "blank.csv", text), mode="valid_rows")
    assert job.rows_total == 2
    assert errors_of(job) == [
        (6, "Téléphone", "'pas de tel' is not a phone number: it has no digits.")
    ]
    assert Contact.objects.for_workspace(workspace).count() == 1


def test_text_in_the_phone_column_is_reported_and_nothing_is_half_imported(workspace, tmp_path):
    text = CONTACTS_HEADER + "0612345678;Anne;;;oui\r\n06 12 AB;Paul;;;oui\r\n0699999;Léa;;;\r\n"
    job = run_import(workspace, write(tmp_path, "bad.csv", text))
    assert job.status == ImportStatus.FAILED
    assert "2 of 3 lines have errors" in job.failure
    rows = errors_of(job)
    assert [(r, c) for r, c, _ in rows] == [(3, "Téléphone"), (4, "Téléphone")]
    assert "not a valid number" in rows[1][2]
    assert not Contact.objects.for_workspace(workspace).exists()
    assert not ConsentEvent.objects.exists()


def test_duplicate_phones_in_a_contacts_file(workspace, tmp_path):
    text = CONTACTS_HEADER + "0612345678;Anne;;;\r\n+33 6 12 34 56 78;Annie;;;\r\n"
    path = write(tmp_path, "dup.csv", text)
    job = run_import(workspace, path)
    assert errors_of(job) == [(3, "Téléphone", "The same phone number (+33612345678) as line 2.")]
    assert not Contact.objects.for_workspace(workspace).exists()
    job = run_import(workspace, path, mode="valid_rows")
    assert Contact.objects.get(workspace=workspace).first_name == "Anne"


def test_each_bad_cell_is_reported_by_line_column_and_reason(workspace, tmp_path):
    text = (
        "Téléphone;Date;Montant;Email;Consentement SMS;Date de naissance\r\n"
        "0612345678;31/02/2024;12,50;;;\r\n"
        "0612345678;01/02/2024;1.234;pas-un-email;peut-être;12/12/2099\r\n"
        "0612345678;01/02/2024;;;;\r\n"
        "0612345678;01/02/2024;12;;;;extra\r\n"
    )
    job = run_import(workspace, write(tmp_path, "cells.csv", text), kind="purchases")
    assert [(r, c) for r, c, _ in errors_of(job)] == [
        (2, "Date"),
        (3, "Montant"),
        (3, "Email"),
        (3, "Consentement SMS"),
        (3, "Date de naissance"),
        (4, "Montant"),
        (5, ""),
    ]
    reasons = " | ".join(r for _, _, r in errors_of(job))
    for expected in ("not a date that exists", "more than 2 decimals", "not an email", "required"):
        assert expected in reasons
    assert not Purchase.objects.exists()


def test_a_30_mb_file_is_checked_whole_and_reported_by_line(workspace, tmp_path):
    path = tmp_path / "big.csv"
    note = "Client fidèle, préfère être appelé le matin. " * 7
    lines = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Téléphone;Prénom;Nom;Notes\r\n")
        while out.tell() < 30 * 1024 * 1024:
            lines += 1
            out.write(f"06{12_000_000 + lines:08d};Anne;Roux;{note}\r\n")
        out.write("n/a;Paul;Roux;\r\n")
    assert path.stat().st_size >= 30 * 1024 * 1024
    job = run_import(workspace, path, pairs=("Notes=attr",))
    assert job.status == ImportStatus.FAILED
    assert job.rows_total == lines + 1
    assert errors_of(job) == [
        (lines + 2, "Téléphone", "'n/a' is not a phone number: it has no digits.")
    ]
    assert not Contact.objects.for_workspace(workspace).exists()


def test_a_file_over_the_limit_is_refused_with_the_size(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(services, "MAX_BYTES", 1024 * 1024)
    path = write(tmp_path, "big.csv", CONTACTS_HEADER + "0612345678;A;B;;\r\n" * 60_000)
    with pytest.raises(ValidationError, match="larger than 1 MB"):
        run_import(workspace, path)


def test_a_file_that_is_neither_utf8_nor_windows_1252(workspace, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"T\xe9l\xe9phone;Nom\r\n06\x81;X\r\n")
    with pytest.raises(ValidationError, match="neither UTF-8 nor Windows-1252"):
        run_import(workspace, path)


def _workbook(tmp_path: Path, *, cached: str | None = None) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Téléphone", "Date", "Montant", "Magasin"])
    sheet.append([612345678, dt.datetime(2024, 5, 2), 120.5, "Lyon"])
    sheet.append([612345679, dt.datetime(2024, 5, 3), "=C2*2", None])
    sheet.append([None, dt.datetime(2024, 5, 4), 10, None])
    sheet.merge_cells("D2:D3")  # the store typed once for two lines
    sheet.merge_cells("A3:A4")  # a phone typed once for two purchases
    path = tmp_path / "ventes.xlsx"
    book.save(path)
    if cached is not None:  # what Excel does: the result saved next to the formula
        with zipfile.ZipFile(path) as source:
            parts = {name: source.read(name) for name in source.namelist()}
        xml = parts["xl/worksheets/sheet1.xml"].decode()
        xml = re.sub(
            r"<f>C2\*2</f><v\s*/>|<f>C2\*2</f><v></v>|<f>C2\*2</f>",
            f"<f>C2*2</f><v>{cached}</v>",
            xml,
        )
        parts["xl/worksheets/sheet1.xml"] = xml.encode()
        with zipfile.ZipFile(path, "w") as target:
            for name, data in parts.items():
                target.writestr(name, data)
    return path


def test_xlsx_formulas_without_results_and_merged_cells_are_reported(workspace, tmp_path):
    job = run_import(workspace, _workbook(tmp_path), kind="purchases", mode="valid_rows")
    rows = errors_of(job)
    assert [(r, c) for r, c, _ in rows] == [(3, "Montant"), (4, "Téléphone")]
    assert "formula whose result was never saved" in rows[0][2]
    assert "required" in rows[1][2]
    purchase = Purchase.objects.get(workspace=workspace)
    assert (purchase.amount, purchase.store) == (Decimal("120.50"), "Lyon")


def test_xlsx_formulas_read_as_their_saved_result(workspace, tmp_path):
    job = run_import(
        workspace, _workbook(tmp_path, cached="241"), kind="purchases", mode="valid_rows"
    )
    assert [(r, c) for r, c, _ in errors_of(job)] == [(4, "Téléphone")]
    stores = dict(Purchase.objects.values_list("amount", "store"))
    assert stores == {Decimal("120.50"): "Lyon", Decimal("241.00"): ""}  # merged: then blank


def test_a_mapping_without_the_phone_is_refused(workspace, tmp_path):
    path = write(tmp_path, "c.csv", "Nom;Prénom\r\nRoux;Anne\r\n")
    with path.open("rb") as source:
        job = import_upload(workspace=workspace, kind="contacts", source=source, name="c.csv")
    with pytest.raises(ValidationError, match="Phone"):
        import_configure(job=job, mapping=job.mapping, mode="all_or_nothing")
    with pytest.raises(ValidationError, match="both mapped"):
        import_configure(job=job, mapping=["phone", "phone"], mode="all_or_nothing")


# -- values and suggestions ----------------------------------------------------------------------


def test_header_names_suggest_fields_in_french_and_english():
    header = ["Portable", "Prénom", "NOM", "E-mail", "Date de naissance", "Consentement SMS",
              "Date", "Montant TTC", "Type", "Matière", "Marque", "Magasin", "Divers"]  # fmt: skip
    assert suggest(header, "purchases") == [
        "phone", "first_name", "last_name", "email", "birthday", "consent_sms",
        "purchased_on", "amount", "product_type", "material", "brand", "store", "",
    ]  # fmt: skip
    assert suggest(["Phone", "First name", "Date"], "contacts") == ["phone", "first_name", ""]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,50", "1234.50"),
        ("1234.50", "1234.50"),
        ("1.234,50 €", "1234.50"),
        ("1,234.50", "1234.50"),
        ("\u202f12,5", "12.50"),
        ("-19,90", "-19.90"),
        ("EUR 7", "7.00"),
    ],
)
def test_amounts(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["douze", "1,2,3", "12,345", "", "1e5"])
def test_not_amounts(text):
    with pytest.raises(CellError):
        parse_amount(text)


def test_dates_and_consent_answers():
    assert parse_date("31/12/2024") == dt.date(2024, 12, 31)
    assert parse_date("2024-12-31") == dt.date(2024, 12, 31)
    assert parse_date("31.12.24 14:32") == dt.date(2024, 12, 31)
    assert parse_date("2024-12-31T08:00:00Z") == dt.date(2024, 12, 31)
    with pytest.raises(CellError, match="not a date"):
        parse_date("12/31/2024 PM")
    assert [parse_consent(v) for v in ("OUI", "non", "yes", "No", "1", "0", "x", "")] == [
        True, False, True, False, True, False, True, None,
    ]  # fmt: skip


# -- the command line ------------------------------------------------------------------------


def test_the_command_imports_with_a_progress_bar(workspace):
    out = io.StringIO()
    call_command(
        "import-contacts", str(SAMPLE_CSV), "--workspace", workspace.name, "--purchases", stdout=out
    )
    text = out.getvalue()
    assert "100%" in text and "\r" in text
    assert f"{len(sample_lines())} lines read, 0 with errors" in text
    assert Purchase.objects.for_workspace(workspace).count() == len(sample_lines())
    job = ImportJob.objects.get(workspace=workspace)
    assert job.created_by_label == "command line"


def test_the_command_reports_lines_in_error_and_fails(workspace, tmp_path):
    path = write(tmp_path, "c.csv", "Tel;Nom;Carte\r\n0612345678;Roux;A1\r\nabc;Paul;A2\r\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import-contacts", str(path), "--workspace", str(workspace.id),
            "--mapping", "Carte=attr:card", "Tel=phone", stdout=out,
        )  # fmt: skip
    assert "line 3, Tel: 'abc' is not a phone number" in out.getvalue()
    assert "Carte                          -> attr:card" in out.getvalue()
    out = io.StringIO()
    call_command(
        "import-contacts", str(path), "--workspace", workspace.name, "--mode", "valid_rows",
        "--mapping", "3=attr", "1=phone", stdout=out,
    )  # fmt: skip
    assert Contact.objects.get(workspace=workspace).attributes == {"carte": "A1"}


def test_the_command_check_writes_nothing(workspace, tmp_path):
    out = io.StringIO()
    call_command(
        "import-contacts", str(SAMPLE_XLSX), "--workspace", workspace.name, "--check", stdout=out
    )
    assert "Check only: nothing was written." in out.getvalue()
    assert not Contact.objects.for_workspace(workspace).exists()


def test_the_command_names_a_missing_workspace(db, tmp_path):
    with pytest.raises(CommandError, match="No workspace 'Nowhere'"):
        call_command("import-contacts", str(SAMPLE_CSV), "--workspace", "Nowhere")


def test_the_benchmark_runs_tiny(workspace):
    from comptoir.benchmarks import imports

    lines = imports.run({"rows": 400, "rounds": 1})
    assert any("400 lines" in line for line in lines)
    assert any("re-import" in line for line in lines)


def test_a_workbook_named_csv_is_read_as_a_workbook(workspace, tmp_path):
    renamed = tmp_path / "clients.csv"
    renamed.write_bytes(SAMPLE_XLSX.read_bytes())
    with renamed.open("rb") as source:
        uploaded = import_upload(
            workspace=workspace, kind="contacts", source=source, name=renamed.name
        )
    assert files.job_path(uploaded).suffix == ".xlsx"  # openpyxl goes by the suffix
    job = run_import(workspace, renamed)
    assert (job.file_format, job.status) == ("xlsx", ImportStatus.DONE)
    assert Contact.objects.for_workspace(workspace).count() == 20


def test_a_job_run_twice_runs_once(workspace, tmp_path):
    """A task delivered twice finds the job taken: nothing is checked or written again."""
    job = run_import(
        workspace, write(tmp_path, "c.csv", CONTACTS_HEADER + "0612345678;A;;;oui\r\n")
    )
    finished = job.finished_at
    again = import_run(job_id=job.id)
    assert (again.status, again.finished_at) == (ImportStatus.DONE, finished)
    assert ConsentEvent.objects.count() == 1
