"""The import benchmark: a 100,000-line point-of-sale export, every check on, timed.

Each round imports the file into a new workspace (every contact and purchase new), then
imports it again (everything matched, nothing written): the issue's target is 30 s for
the first. Medians over the rounds; the database is whatever DATABASE_URL says.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from django.db import connection

from comptoir.imports.files import import_file_drop
from comptoir.imports.mapping import suggest
from comptoir.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from comptoir.imports.services import import_configure, import_run, import_upload
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

TARGET_SECONDS = 30.0
PRODUCTS = ["bague", "collier", "bracelet", "montre", "monture", "lunettes de soleil"]
MATERIALS = ["or", "argent", "or blanc", "titane", "acétate"]
STORES = ["Lyon Presqu'île", "Villeurbanne", "Annecy"]
HEADER = (
    "N° ticket;Date;Nom;Prénom;Téléphone;Email;Consentement SMS;Type;Matière;Marque;Magasin;"
    "Montant TTC\r\n"
)


def write_export(path: Path, rows: int, seed: int = 5) -> int:
    """A Windows-1252 `;` export of `rows` sales by rows*0.4 customers; returns the customers."""
    rng = random.Random(seed)
    customers = max(1, int(rows * 0.4))
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(HEADER)
        for line in range(rows):
            who = rng.randrange(customers)
            day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2019, 2025)
            euros, cents = rng.randint(20, 2400), rng.randint(0, 99)
            thousands = f"{euros // 1000} {euros % 1000:03d}" if euros >= 1000 else str(euros)
            out.write(
                f"T{100_000 + line};{day:02d}/{month:02d}/{year};Nom{who};Prénom{who};"
                f"06 {10 + who // 1_000_000:02d} {who // 10_000 % 100:02d} "
                f"{who // 100 % 100:02d} {who % 100:02d};client{who}@example.fr;"
                f"{'oui' if who % 5 else 'non'};{rng.choice(PRODUCTS)};{rng.choice(MATERIALS)};"
                f"Maison;{rng.choice(STORES)};{thousands},{cents:02d}\r\n"
            )
    return customers


def _import(workspace: Workspace, path: Path) -> tuple[float, float, ImportJob]:
    """Seconds for the whole import and for its check alone, and the finished job."""
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def progress(job: ImportJob) -> None:
        if job.status == ImportStatus.WRITING and "check" not in marks:
            marks["check"] = time.perf_counter() - start

    with path.open("rb") as source:
        job = import_upload(
            workspace=workspace,
            kind=ImportKind.PURCHASES,
            source=source,
            name=path.name,
            actor_label="benchmark",
        )
    import_configure(
        job=job,
        mapping=suggest(job.header, job.kind),
        mode=ImportMode.ALL_OR_NOTHING,
    )
    job = import_run(job_id=job.id, progress=progress)
    total = time.perf_counter() - start
    if job.status != ImportStatus.DONE:
        raise RuntimeError(f"the benchmark's import failed: {job.failure}")
    return total, marks.get("check", total), job


def run(options: dict[str, Any]) -> list[str]:
    """Options: rows (100,000), rounds (3), keep (False: the workspaces are deleted)."""
    rows = int(options.get("rows", 100_000))
    rounds = int(options.get("rounds", 3))
    keep = bool(options.get("keep", False))
    if rows <= 0 or rounds <= 0:
        raise ValueError("rows and rounds must be positive")
    firsts, checks, agains = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export-caisse.csv"
        customers = write_export(path, rows)
        size = path.stat().st_size
        for number in range(rounds):
            workspace = workspace_create(name=f"bench imports {time.time_ns()}-{number}")
            try:
                first, check, _job = _import(workspace, path)
                again, _check, second = _import(workspace, path)
                if second.summary.get("purchases_created") or second.summary.get(
                    "contacts_updated"
                ):
                    raise RuntimeError("importing the same file again changed something")
                firsts.append(first)
                checks.append(check)
                agains.append(again)
            finally:
                if not keep:
                    for done in ImportJob.objects.for_workspace(workspace):
                        import_file_drop(done)
                    workspace.delete()
    first, check, again = (statistics.median(x) for x in (firsts, checks, agains))
    return [
        f"imports: {rows:,} lines (purchases of {customers:,} customers, Windows-1252 CSV, "
        f"{size / 1e6:.1f} MB) on {connection.vendor}, median of {rounds}",
        f"  import, all new            {first:>7.2f} s  ({rows / first:,.0f} lines/s)",
        f"    of which the check       {check:>7.2f} s",
        f"    of which the writes      {first - check:>7.2f} s",
        f"  re-import, nothing changes {again:>7.2f} s",
        f"  issue's target (≤ {TARGET_SECONDS:.0f} s for {rows:,} lines): "
        + ("met" if first <= TARGET_SECONDS * rows / 100_000 else "not met"),
    ]
