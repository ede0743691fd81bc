"""The import pages: upload, the mapping screen with its preview, checks, progress by a worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY

from comptoir.contacts.models import Contact, Purchase
from comptoir.core.embedded import start_embedded_worker
from comptoir.imports import files, services
from comptoir.imports.models import ImportJob, ImportStatus
from comptoir.workspaces.models import Role
from comptoir.workspaces.services import staff_add

SAMPLE_CSV = Path(__file__).resolve().parent.parent / "examples" / "pos-export-bijouterie.csv"


@pytest.fixture(autouse=True)
def import_folder(tmp_path, monkeypatch):
    """Uploaded files are kept in the test's own folder, deleted with it."""
    monkeypatch.setattr(files, "VAR_DIR", tmp_path / "var")


def upload(client: Client, name: str, data: bytes, kind: str = "purchases", **extra: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/imports/",
        {"kind": kind, "file": SimpleUploadedFile(name, data), "delimiter": "", **extra},
    )


def mapping_post(job: ImportJob, action: str, mode: str = "all_or_nothing", **changes: str):
    data = {f"col-{i}": field for i, field in enumerate(job.mapping)}
    data.update(changes)
    return {**data, "action": action, "mode": mode}


def test_upload_shows_the_mapping_screen_with_preview_and_suggestions(staff_client, workspace):
    response = upload(staff_client, "caisse.csv", SAMPLE_CSV.read_bytes())
    job = ImportJob.objects.get(workspace=workspace)
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.id}/"
    page = staff_client.get(f"/imports/{job.id}/").content.decode()
    assert 'id="mapping-form"' in page
    assert '<option value="phone" selected>' in page
    assert '<option value="amount" selected>' in page
    assert page.count("<tr><td title=") == 10  # the first ten lines, read as Windows-1252
    assert "Lumière" in page or "Presqu&#x27;île" in page
    assert "Keep as attribute" in page


def test_check_shows_each_line_in_error_before_anything_is_written(staff_client, workspace):
    text = "Téléphone;Date;Montant\r\n0612345678;01/02/2024;12,00\r\nabc;01/02/2024;9\r\n"
    upload(staff_client, "v.csv", text.encode())
    job = ImportJob.objects.get(workspace=workspace)
    response = staff_client.post(f"/imports/{job.id}/", mapping_post(job, "check"))
    assert response.status_code == 302
    page = staff_client.get(f"/imports/{job.id}/").content.decode()
    assert "A check only: nothing was written." in page
    assert "<td>3</td><td>Téléphone</td><td>&#x27;abc&#x27; is not a phone number" in page
    assert not Purchase.objects.exists()
    # All or nothing refuses; the valid rows go in.
    staff_client.post(f"/imports/{job.id}/", mapping_post(job, "import"))
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and not Purchase.objects.exists()
    staff_client.post(f"/imports/{job.id}/", mapping_post(job, "import", mode="valid_rows"))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Purchase.objects.for_workspace(workspace).count() == 1
    page = staff_client.get(f"/imports/{job.id}/").content.decode()
    assert 'id="mapping-form"' not in page  # done: it cannot run twice
    assert "purchases created" in page


def test_a_bad_mapping_is_shown_with_the_reason(staff_client, workspace):
    upload(staff_client, "v.csv", "Téléphone;Nom\r\n0612345678;Roux\r\n".encode(), kind="contacts")
    job = ImportJob.objects.get(workspace=workspace)
    response = staff_client.post(
        f"/imports/{job.id}/", mapping_post(job, "import", **{"col-0": ""})
    )
    assert response.status_code == 200
    assert "Choose the column for: Phone" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_wrong_delimiter_is_reported_on_upload_and_can_be_chosen(staff_client, workspace):
    data = "Téléphone,Nom\r\n0612345678,Roux\r\n".encode()
    response = upload(staff_client, "c.csv", data, kind="contacts", delimiter=";")
    assert response.status_code == 200
    assert "seems separated by comma" in response.content.decode()
    upload(staff_client, "c.csv", data, kind="contacts")
    job = ImportJob.objects.get(workspace=workspace)
    assert job.delimiter == ","
    response = staff_client.post(f"/imports/{job.id}/", {"action": "delimiter", "delimiter": "\t"})
    assert "seems separated by comma (,), not tab" in response.content.decode()
    job.refresh_from_db()
    assert (job.delimiter, job.header) == (",", ["Téléphone", "Nom"])


def test_owners_only_and_other_workspaces_jobs_are_not_found(
    staff_client, workspace, other_workspace
):
    staff_add(workspace=workspace, username="bob", password="correct horse", role=Role.AGENT)
    agent = Client()
    assert agent.login(username="bob", password="correct horse")
    assert agent.get("/imports/").status_code == 403
    upload(staff_client, "c.csv", b"Tel;Nom\r\n0612345678;Roux\r\n", kind="contacts")
    job = ImportJob.objects.get(workspace=workspace)
    assert agent.get(f"/imports/{job.id}/").status_code == 403
    staff_add(workspace=other_workspace, username="eve", password="correct horse", role=Role.OWNER)
    other = Client()
    assert other.login(username="eve", password="correct horse")
    assert other.get(f"/imports/{job.id}/").status_code == 404
    assert other.get(f"/imports/{job.id}/progress").status_code == 404


def test_abandon_deletes_the_job_and_its_file(staff_client, workspace):
    upload(staff_client, "c.csv", b"Tel;Nom\r\n0612345678;Roux\r\n", kind="contacts")
    job = ImportJob.objects.get(workspace=workspace)
    stored = services.job_path(job)
    assert stored.exists()
    assert staff_client.post(f"/imports/{job.id}/abandon").status_code == 302
    assert not stored.exists() and not ImportJob.objects.exists()


@pytest.fixture
def real_queue():
    """Huey out of immediate mode, with consumer threads running (as `comptoir serve`)."""
    HUEY.immediate = False
    HUEY.flush()
    consumer = start_embedded_worker(workers=1)
    yield consumer
    consumer.stop(graceful=True)
    HUEY.flush()
    HUEY.immediate = True


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_file_runs_in_the_background_with_progress(
    staff_client, workspace, real_queue, monkeypatch, tmp_path
):
    monkeypatch.setattr(services, "INLINE_BYTES", 1024)
    lines = ["Téléphone;Date;Montant;Type"] + [
        f"06{12_000_000 + i:08d};0{1 + i % 9}/03/2024;{i % 500},50;bague" for i in range(20_000)
    ]
    upload(staff_client, "ventes.csv", "\r\n".join(lines).encode())
    job = ImportJob.objects.get(workspace=workspace)
    response = staff_client.post(f"/imports/{job.id}/", mapping_post(job, "import"))
    assert response.status_code == 302  # answered before the import is done
    page = staff_client.get(f"/imports/{job.id}/").content.decode()
    assert 'hx-get="/imports/' in page and "<progress" in page
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        seen.append((job.status, job.percent))
        response = staff_client.get(f"/imports/{job.id}/progress", HTTP_HX_REQUEST="true")
        if not job.running:  # finished before the request: the page reloads whole
            assert response["HX-Refresh"] == "true"
            break
        assert "<progress" in response.content.decode()
        time.sleep(0.05)
    assert job.status == ImportStatus.DONE, (job.failure, seen[-5:])
    assert Purchase.objects.for_workspace(workspace).count() == 20_000
    running = [s for s in seen if s[0] != ImportStatus.DONE]
    assert running, seen  # the page saw it working
    percents = [p for _, p in seen]
    assert percents == sorted(percents)  # progress only moves forward
