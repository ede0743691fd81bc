"""What imports keep about a person: files deleted once imported or stale, erasure reaches them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from comptoir.compliance.gdpr import contact_erase
from comptoir.contacts.models import Contact
from comptoir.core.errors import Conflict
from comptoir.imports import files
from comptoir.imports.erasure import ERASED, KEEP_DAYS, imports_sweep, phone_spellings
from comptoir.imports.mapping import mapping_from_pairs
from comptoir.imports.models import ImportJob, ImportStatus
from comptoir.imports.services import (
    import_abandon,
    import_configure,
    import_run,
    import_same_file,
    import_upload,
    job_path,
)

HEADER = "Téléphone;Prénom;Nom;Email;Consentement SMS\r\n"


@pytest.fixture(autouse=True)
def import_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "VAR_DIR", tmp_path / "var")


def upload(workspace, tmp_path: Path, text: str, name: str = "clients.csv") -> ImportJob:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    with path.open("rb") as source:
        return import_upload(workspace=workspace, kind="contacts", source=source, name=name)


def run(job: ImportJob, *, mode: str = "all_or_nothing", commit: bool = True) -> ImportJob:
    import_configure(
        job=job, mapping=mapping_from_pairs([], job.header, "contacts"), mode=mode, commit=commit
    )
    return import_run(job_id=job.id)


def test_an_imported_file_is_deleted_and_the_job_kept_as_the_record(workspace, tmp_path):
    job = upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n")
    stored = job_path(job)
    assert stored.exists()
    done = run(job)
    assert done.status == ImportStatus.DONE
    assert not stored.exists()
    done.refresh_from_db()
    assert done.file_path == "" and done.file_sha256 and done.file_name == "clients.csv"
    again = upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n")
    assert import_same_file(again) == done  # recognised by its sha256


def test_a_dry_run_keeps_the_file_for_the_real_run(workspace, tmp_path):
    job = upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n")
    checked = run(job, commit=False)
    assert checked.status == ImportStatus.CHECKED and job_path(checked).exists()
    assert run(checked).status == ImportStatus.DONE
    assert Contact.objects.filter(workspace=workspace).count() == 1


def test_erasure_deletes_a_waiting_file_that_holds_the_number(workspace, tmp_path):
    first = run(upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n"))
    contact = Contact.objects.get(workspace=workspace)
    # Two files uploaded and not imported: one has Anne written another way, one not.
    holding = upload(
        workspace, tmp_path, HEADER + "06 12 34 56 78;Anne;Roux;;oui\r\n", name="again.csv"
    )
    other = upload(workspace, tmp_path, HEADER + "0698765432;Paul;Roux;;oui\r\n", name="o.csv")
    holding_path, other_path = job_path(holding), job_path(other)

    deleted = contact_erase(workspace=workspace, contact_id=contact.id)

    assert deleted["import_files"] == 1
    assert not holding_path.exists() and other_path.exists()
    holding.refresh_from_db()
    assert holding.status == ImportStatus.FAILED and "erased" in holding.failure
    with pytest.raises(Conflict, match="deleted"):
        run(holding)
    import_abandon(job=holding)  # the staff can still throw the job away
    first.refresh_from_db()
    assert first.status == ImportStatus.DONE  # the record of what was imported stays


def test_erasure_finds_the_number_by_email_in_an_xlsx(workspace, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    run(upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;anne@example.fr;oui\r\n"))
    book = openpyxl.Workbook()
    book.active.append(["Email", "Nom"])
    book.active.append(["Anne@Example.fr", "Roux"])
    book.save(tmp_path / "mails.xlsx")
    with (tmp_path / "mails.xlsx").open("rb") as source:
        waiting = import_upload(
            workspace=workspace, kind="contacts", source=source, name="mails.xlsx"
        )
    contact = Contact.objects.get(workspace=workspace)
    contact_erase(workspace=workspace, contact_id=contact.id)
    assert not job_path(waiting).exists()


def test_erasure_redacts_row_errors_quoting_the_number(workspace, tmp_path):
    twice = HEADER + "0612345678;Anne;Roux;;oui\r\n+33 6 12 34 56 78;Anne;R;;oui\r\n"
    job = run(upload(workspace, tmp_path, twice), mode="valid_rows")
    assert "+33612345678" in job.errors.get().reason
    unrelated = run(
        upload(workspace, tmp_path, HEADER + "0698765432;P;R;;oui\r\n0698765432;P;R;;oui\r\n"),
        mode="valid_rows",
    )
    contact = Contact.objects.get(workspace=workspace, phone="+33612345678")

    deleted = contact_erase(workspace=workspace, contact_id=contact.id)

    assert deleted["import_row_errors"] == 1
    error = job.errors.get()
    assert error.reason == ERASED and error.row == 3  # the line stays, the number goes
    assert "+33698765432" in unrelated.errors.get().reason


def test_another_workspaces_files_are_not_touched(workspace, other_workspace, tmp_path):
    run(upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n"))
    theirs = upload(other_workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n")
    contact = Contact.objects.get(workspace=workspace)
    contact_erase(workspace=workspace, contact_id=contact.id)
    assert job_path(theirs).exists()


def test_files_left_unimported_are_swept_after_the_keeping_days(workspace, tmp_path):
    stale = upload(workspace, tmp_path, HEADER + "0612345678;Anne;Roux;;oui\r\n")
    fresh = upload(workspace, tmp_path, HEADER + "0698765432;Paul;Roux;;oui\r\n", name="b.csv")
    queued = upload(workspace, tmp_path, HEADER + "0611111111;Léa;Roux;;oui\r\n", name="c.csv")
    old = timezone.now() - dt.timedelta(days=KEEP_DAYS, hours=1)
    ImportJob.objects.filter(pk__in=[stale.pk, queued.pk]).update(updated_at=old)
    ImportJob.objects.filter(pk=queued.pk).update(status=ImportStatus.QUEUED)
    stale_path = job_path(stale)

    assert imports_sweep() == 1

    stale.refresh_from_db()
    assert stale.status == ImportStatus.FAILED and "upload it again" in stale.failure
    assert not stale_path.exists() and stale.file_path == ""
    assert job_path(fresh).exists() and job_path(queued).exists()


def test_phone_spellings_cover_what_shops_write():
    assert phone_spellings("+33612345678") == {
        "+33612345678", "33612345678", "0033612345678", "0612345678", "612345678",
    }  # fmt: skip
