"""`comptoir import-contacts FILE --workspace …`: the same import as the web page, on a terminal.

The command module is named import-contacts.py (Django takes a command's name from its
file, and import_module accepts the dash); the work is here, importable and typed.
"""

from __future__ import annotations

import uuid
from io import TextIOBase
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import Q

from comptoir.core.errors import ComptoirError
from comptoir.imports.mapping import mapping_from_pairs
from comptoir.imports.models import ImportJob, ImportKind, ImportMode, ImportRowError, ImportStatus
from comptoir.imports.services import import_configure, import_run, import_upload
from comptoir.workspaces.models import Workspace

DELIMITER_WORDS = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ","}
ERRORS_SHOWN = 50
BAR = 30


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("file", help="a CSV (UTF-8 or Windows-1252) or XLSX export")
    parser.add_argument("--workspace", required=True, help="the workspace's id or name")
    parser.add_argument(
        "--purchases", action="store_true", help="one purchase per line (with its customer)"
    )
    parser.add_argument(
        "--mapping",
        nargs="*",
        default=[],
        metavar="COLUMN=FIELD",
        help="over the mapping guessed from the header: a column's name or number = a field "
        "(phone, first_name, last_name, email, birthday, language, consent_sms, consent_email, "
        "tags, purchased_on, amount, product_type, material, brand, store, receipt, attr, "
        "attr:<name>), or nothing to leave it out",
    )
    parser.add_argument(
        "--mode", choices=ImportMode.values, default=ImportMode.ALL_OR_NOTHING.value
    )
    parser.add_argument("--delimiter", default="", help="; , or tab (guessed by default)")
    parser.add_argument("--check", action="store_true", help="check every line, write nothing")


def find_workspace(text: str) -> Workspace:
    try:
        wanted = Q(pk=uuid.UUID(text))
    except ValueError:
        wanted = Q(name__iexact=text.strip())
    found = list(Workspace.objects.filter(wanted)[:2])
    if len(found) != 1:
        raise CommandError(
            f"No workspace {text!r}."
            if not found
            else f"Several workspaces are named {text!r}: give its id."
        )
    return found[0]


class ProgressBar:
    """One line redrawn in place: the phase, a bar and the figures."""

    def __init__(self, out: TextIOBase):
        self.out = out
        self.last = ""

    def __call__(self, job: ImportJob) -> None:
        done = job.percent * BAR // 100
        line = (
            f"\r{job.get_status_display():<22} [{'#' * done}{'.' * (BAR - done)}] {job.percent:>3}%"
        )
        if line != self.last:
            self.out.write(line)
            self.out.flush()
            self.last = line

    def close(self) -> None:
        if self.last:
            self.out.write("\n")


def run(options: dict[str, Any], out: TextIOBase) -> None:
    workspace = find_workspace(options["workspace"])
    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(f"No such file: {path}")
    delimiter = DELIMITER_WORDS.get(options["delimiter"], options["delimiter"])
    kind = ImportKind.PURCHASES if options["purchases"] else ImportKind.CONTACTS
    try:
        with path.open("rb") as source:
            job = import_upload(
                workspace=workspace,
                kind=kind,
                source=source,
                name=path.name,
                delimiter=delimiter,
                actor_label="command line",
            )
        mapping = mapping_from_pairs(options["mapping"], job.header, kind)
        out.write(f"{path.name}: {job.file_format}, {job.encoding or 'workbook'}")
        out.write(f", {len(job.header)} columns\n")
        for column, field in zip(job.header, mapping, strict=True):
            out.write(f"  {column:<30} -> {field or '(not imported)'}\n")
        import_configure(
            job=job, mapping=mapping, mode=options["mode"], commit=not options["check"]
        )
    except ComptoirError as exc:
        raise CommandError(exc.message) from exc
    bar = ProgressBar(out)
    try:
        job = import_run(job_id=job.id, progress=bar)
    finally:
        bar.close()
    report(job, out)
    if job.status == ImportStatus.FAILED:
        raise CommandError(job.failure)


def report(job: ImportJob, out: TextIOBase) -> None:
    out.write(f"{job.rows_total:,} lines read, {job.rows_invalid:,} with errors\n")
    errors = ImportRowError.objects.filter(job=job).order_by("row", "id")
    for error in errors[:ERRORS_SHOWN]:
        where = f"line {error.row}" + (f", {error.column}" if error.column else "")
        out.write(f"  {where}: {error.reason}\n")
    more = errors.count() - ERRORS_SHOWN
    if more > 0:
        out.write(f"  … and {more:,} more errors\n")
    for name, value in sorted(job.summary.items()):
        if name != "notes":
            out.write(f"  {name.replace('_', ' '):<24} {value:,}\n")
    for note in job.summary.get("notes", []):
        out.write(f"  note, line {note['row']}, {note['column']}: {note['reason']}\n")
    if job.status == ImportStatus.CHECKED:
        out.write("Check only: nothing was written.\n")
