"""Reading a point-of-sale export as rows of text cells, whatever its format.

CSV: UTF-8 (with or without BOM) or Windows-1252, told apart by decoding the whole file
(a stray byte 25 MB in decides it); `;`, `,` or tab, sniffed from the first lines unless
the user chose. XLSX: the first sheet, through openpyxl in read-only mode, values as last
computed (never the formulas); a merged range reads as its top-left value then blanks.
Rows come with their line number in the file (1 is the header), blank lines skipped.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

from comptoir.core.errors import ValidationError

DELIMITERS = (";", ",", "\t")
DELIMITER_NAMES = {";": "semicolon (;)", ",": "comma (,)", "\t": "tab"}
ENCODINGS = ("utf-8", "cp1252")
# Bytes read to sniff the delimiter and show the preview.
SAMPLE_BYTES = 64 * 1024
CHUNK = 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # in the file: 1 is the header
    cells: list[str]
    # Columns (by index) whose cell is a formula with no computed value stored (XLSX).
    uncomputed: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class FileShape:
    file_format: str  # "csv" or "xlsx"
    encoding: str
    delimiter: str
    header: list[str]


def file_format(path: Path, name: str) -> str:
    """ "xlsx" for a workbook (by its content: a renamed file is still read right), else "csv"."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == XLSX_MAGIC:
        return "xlsx"
    if name.lower().endswith((".xls", ".xlsm", ".ods", ".numbers")):
        raise ValidationError(
            _("%(name)s is not a CSV or XLSX file: save it as .xlsx or .csv first.")
            % {"name": name},
            field="file",
        )
    return "csv"


def detect_encoding(path: Path) -> str:
    """ "utf-8" when every byte decodes as UTF-8 (a BOM is allowed), else "cp1252".

    Raises ValidationError when the file is neither (a byte Windows-1252 leaves undefined).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    windows = codecs.getincrementaldecoder("cp1252")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                windows.decode(chunk)
            except UnicodeDecodeError as exc:
                raise ValidationError(
                    _(
                        "The file is neither UTF-8 nor Windows-1252 text (byte %(byte)s at "
                        "offset %(offset)s): export it again as CSV UTF-8."
                    )
                    % {"byte": hex(chunk[exc.start]), "offset": offset + exc.start},
                    field="file",
                ) from None
            offset += len(chunk)
    return "cp1252"


def _text_stream(path: Path, encoding: str) -> IO[str]:
    # utf-8-sig drops a BOM when there is one and reads plain UTF-8 otherwise.
    python_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    return path.open(encoding=python_encoding, newline="")


def sniff_delimiter(path: Path, encoding: str) -> str:
    """The delimiter that splits the first lines into the same number of cells, most of them."""
    with _text_stream(path, encoding) as handle:
        sample = handle.read(SAMPLE_BYTES)
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and len(sample) >= SAMPLE_BYTES:
        lines = lines[:-1]  # the last line of a cut sample may be cut too
    best, best_score = ";", -1
    for delimiter in DELIMITERS:
        try:
            widths = [len(cells) for cells in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        steady = sum(1 for w in widths if w == widths[0])
        score = steady * 1000 + widths[0]
        if score > best_score:
            best, best_score = delimiter, score
    return best


def csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[Row, int]]:
    """Each non-blank row with its line number, and the bytes read so far (for progress)."""
    with path.open("rb") as raw:
        python_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
        text = io.TextIOWrapper(raw, encoding=python_encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        line = 0
        try:
            for cells in reader:
                start, line = line + 1, reader.line_num
                if any(cell.strip() for cell in cells):
                    yield Row(start, cells), raw.tell()
        except csv.Error as exc:
            raise ValidationError(
                _("Line %(line)s cannot be read as CSV: %(reason)s.")
                % {"line": reader.line_num, "reason": exc},
                field="file",
            ) from None


def _xlsx_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # 612345678.0 is a phone number Excel took for a number: no ".0", no exponent.
        # 15 significant digits: what Excel shows, without binary noise (0.1 + 0.2).
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    return str(value).strip()


def xlsx_rows(path: Path) -> Iterator[tuple[Row, int]]:
    """The first sheet's non-blank rows with their row number, and the rows read so far.

    Read twice side by side: once for the values Excel last computed, once for the
    formulas, to tell an empty cell from a formula whose result was never stored.
    """
    from openpyxl import load_workbook

    try:
        values = load_workbook(path, read_only=True, data_only=True)
        formulas = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationError(
            _("The workbook cannot be opened: %(reason)s.") % {"reason": exc}, field="file"
        ) from None
    try:
        sheet, formula_sheet = values.worksheets[0], formulas.worksheets[0]
        pairs = zip(
            sheet.iter_rows(values_only=True),
            formula_sheet.iter_rows(values_only=True),
            strict=False,
        )
        for number, (cells, raw) in enumerate(pairs, start=1):
            texts = [_xlsx_text(v) for v in cells]
            uncomputed = tuple(
                i
                for i, f in enumerate(raw)
                if isinstance(f, str)
                and f.startswith("=")
                and (i >= len(cells) or cells[i] is None)
            )
            if uncomputed or any(texts):
                yield Row(number, texts, uncomputed), number
    finally:
        values.close()
        formulas.close()


def xlsx_row_count(path: Path) -> int:
    """The first sheet's row count as the file declares it (for the progress bar)."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return int(book.worksheets[0].max_row or 0)
    finally:
        book.close()


def read_rows(
    path: Path, *, file_format: str, encoding: str = "", delimiter: str = ""
) -> Iterator[tuple[Row, int]]:
    """Rows of either format, with progress in bytes (csv) or rows (xlsx)."""
    if file_format == "xlsx":
        return xlsx_rows(path)
    return csv_rows(path, encoding, delimiter)


def shape(path: Path, *, name: str, delimiter: str = "") -> FileShape:
    """The file's format, encoding, delimiter (sniffed unless given) and header.

    Raises ValidationError for an empty file, a header with a blank or repeated name, or
    a header of one column whose text holds another delimiter (the wrong one was chosen).
    """
    kind = file_format(path, name)
    encoding = "" if kind == "xlsx" else detect_encoding(path)
    if kind == "csv":
        if delimiter and delimiter not in DELIMITERS:
            raise ValidationError(
                _("The delimiter must be a semicolon, a comma or a tab."), field="delimiter"
            )
        delimiter = delimiter or sniff_delimiter(path, encoding)
    first = next(
        iter(read_rows(path, file_format=kind, encoding=encoding, delimiter=delimiter)), None
    )
    if first is None:
        raise ValidationError(_("The file has no rows."), field="file")
    header = [cell.strip() for cell in first[0].cells]
    while header and not header[-1]:
        header.pop()  # trailing empty columns (a spreadsheet's formatting)
    if kind == "csv" and len(header) == 1:
        others = [d for d in DELIMITERS if d != delimiter and d in header[0]]
        if others:
            raise ValidationError(
                _(
                    "The header is one column, %(header)r: the file seems separated by "
                    "%(other)s, not %(chosen)s. Choose that delimiter."
                )
                % {
                    "header": header[0][:80],
                    "other": DELIMITER_NAMES[others[0]],
                    "chosen": DELIMITER_NAMES[delimiter],
                },
                field="delimiter",
            )
    for index, name_ in enumerate(header):
        if not name_:
            raise ValidationError(
                _("Column %(n)s of the header (line %(line)s) has no name.")
                % {"n": index + 1, "line": first[0].line},
                field="file",
            )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ValidationError(
            _("The header names these columns twice: %(names)s.") % {"names": ", ".join(repeated)},
            field="file",
        )
    return FileShape(kind, encoding, delimiter, header)


def preview(shape_: FileShape, path: Path, *, rows: int = 10) -> list[Row]:
    """The first rows after the header, for the mapping screen."""
    found: list[Row] = []
    it = read_rows(
        path, file_format=shape_.file_format, encoding=shape_.encoding, delimiter=shape_.delimiter
    )
    next(it, None)
    for row, _progress in it:
        found.append(row)
        if len(found) >= rows:
            break
    return found
