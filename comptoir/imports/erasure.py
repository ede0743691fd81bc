"""What imports keep about a person, and how it goes when that person is erased.

A finished import's file is deleted (its consent proofs carry the file's name, sha256,
line and cell); a file not imported is kept for `COMPTOIR_IMPORT_KEEP_DAYS` so staff can
fix the mapping and run it, then swept. Erasing a customer deletes every kept file that
holds their number or email and redacts row errors that quote either.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Iterable

import phonenumbers
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.imports import readers
from comptoir.imports.files import import_file_drop, job_path
from comptoir.imports.models import RUNNING_STATUSES, ImportJob, ImportRowError

logger = logging.getLogger(__name__)

KEEP_DAYS: int = settings.COMPTOIR_IMPORT_KEEP_DAYS
ERASED = "[erased at the customer's request]"
# What people put between the digits of a number in a spreadsheet.
SEPARATORS = re.compile(r"[\s.\-()/]")


def imports_sweep(*, now: dt.datetime | None = None) -> int:
    """Delete the files of imports left unfinished for KEEP_DAYS; how many went."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=KEEP_DAYS)
    stale = (
        ImportJob.objects.exclude(file_path="")
        .exclude(status__in=RUNNING_STATUSES)
        .filter(updated_at__lt=cutoff)
    )
    failure = _(
        "The file was deleted after %(days)s days without being imported; upload it again."
    ) % {"days": KEEP_DAYS}
    swept = 0
    for job in stale.iterator():
        import_file_drop(job, failure=failure)
        swept += 1
    return swept


def phone_spellings(e164: str) -> set[str]:
    """The ways a number is written in a shop's file, separators removed."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return {e164}
    country, national = str(number.country_code), str(number.national_number)
    return {e164, country + national, "00" + country + national, "0" + national, national}


def _holds(job: ImportJob, spellings: set[str], email: str) -> bool:
    """Whether any cell of the job's file is the number or the email (unreadable: yes)."""
    path = job_path(job)
    if not path.exists():
        return False
    try:
        rows = readers.read_rows(
            path, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter
        )
        for row, _progress in rows:
            for cell in row.cells:
                if SEPARATORS.sub("", cell) in spellings:
                    return True
                if email and cell.strip().lower() == email:
                    return True
    except Exception:
        logger.warning("import %s: file unreadable, deleted with the erasure", job.id)
        return True
    return False


def imports_forget(*, workspace_id: uuid.UUID, phone: str, email: str = "") -> dict[str, int]:
    """Remove a person from what the workspace's imports keep: files and row errors.

    Returns how many files were deleted and row errors redacted (for the audit log).
    """
    spellings = phone_spellings(phone)
    email = email.strip().lower()
    jobs = ImportJob.objects.filter(workspace_id=workspace_id)
    files = 0
    for job in jobs.exclude(file_path=""):
        if _holds(job, spellings, email):
            import_file_drop(
                job,
                failure=_("The file was deleted: it held data of a customer who was erased."),
            )
            files += 1
    quoted = Q()
    for text in _quotable(spellings, email):
        quoted |= Q(reason__icontains=text)
    errors = ImportRowError.objects.filter(job__in=jobs).filter(quoted).update(reason=ERASED)
    return {"import_files": files, "import_row_errors": errors}


def _quotable(spellings: set[str], email: str) -> Iterable[str]:
    """What a row error may quote: the number as written (long spellings only) or email."""
    yield from (s for s in spellings if len(s) >= 8)
    if email:
        yield email
