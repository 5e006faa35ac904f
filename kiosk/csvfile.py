"""Read a list kept in a spreadsheet: decode its CSV as Excel saves it, refuse a broken one.

For every list the staff import (households, the daily observation list, label sheets): the one
reader of CSV and XLSX (``read_sheet``). Accepted encodings are what Excel saves: "CSV UTF-8"
(UTF-8 with a BOM), plain UTF-8, "CSV" on a Chinese Windows (GBK), and UTF-16 with a BOM; a
workbook (XLSX) is read from its first sheet. A file that is not well-formed CSV (a quote never
closed, a row with more values than the header names, a field over 128 KB) is refused whole
with one line naming the line, since guessing where its rows end could put one flat's data on
another.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

SAVE_AS = "save as CSV UTF-8"
XLSX_MAGIC = b"PK\x03\x04"  # a workbook is a zip file
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls): an OLE compound file


class CsvError(ValueError):
    """The file is not CSV the shelf can read; the message names the file and the line."""


class EncodingError(CsvError):
    """The file's text is in an encoding the shelf does not read (not UTF-8, GBK, UTF-16)."""


@dataclass(frozen=True)
class Table:
    """A CSV file's header (names trimmed, lower-cased) and its rows with their line numbers."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]  # (line where the row starts, its fields)
    encoding: str
    other_sheets: tuple[str, ...] = ()  # a workbook's later sheets that hold something


@dataclass(frozen=True)
class Sheet:
    """A list's rows that are not blank, as text, with their line (a workbook's row number)."""

    records: tuple[tuple[int, tuple[str, ...]], ...]
    encoding: str  # utf-8, utf-8-sig, gbk, utf-16 or xlsx
    other_sheets: tuple[str, ...] = ()  # a workbook's later sheets that hold something (unread)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Return (text, encoding) for UTF-8 (with or without BOM), UTF-16 with BOM, or GBK."""
    if data.startswith(XLSX_MAGIC):
        raise CsvError(f"{name}: this is an Excel workbook, not CSV: {SAVE_AS}")
    if data.startswith(XLS_MAGIC):
        raise CsvError(f"{name}: an old Excel workbook (.xls): save it as .xlsx, or {SAVE_AS}")
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gbk"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # UTF-16 without a BOM, or some other binary file
            return text, encoding
    raise EncodingError(f"{name}: not UTF-8 or GBK: {SAVE_AS}")


def read_table(path: Path | str) -> Table:
    """Read a CSV file or workbook with a header row; raise CsvError naming the line of any
    malformed row."""
    path = Path(path)
    return parse_table(path.read_bytes(), path.name)


def parse_table(data: bytes, name: str) -> Table:
    """The table in a CSV file's or workbook's bytes (``name`` is the file's, for messages)."""
    sheet = read_sheet(data, name)
    records = list(sheet.records)
    if not records:
        raise CsvError(f"{name}: the file is empty; the first line must name the columns")
    (first, names), rows = records[0], records[1:]
    header = tuple(n.strip().lower() for n in names)
    twice = sorted({n for n in header if n and header.count(n) > 1})
    if twice:
        raise CsvError(f"{name}: line {first}: the column {twice[0]!r} is named twice")
    for line, fields in rows:
        if any(f.strip() for f in fields[len(header):]):
            raise CsvError(f"{name}: line {line}: {len(fields)} values, but the header "
                           f"names {len(header)} columns: put quotes around a value with a comma")
    width = len(header)
    return Table(header, tuple((line, _fit(fields, width)) for line, fields in rows),
                 sheet.encoding, sheet.other_sheets)


def read_sheet(data: bytes, name: str) -> Sheet:
    """The rows of a CSV file or of a workbook's first sheet; CsvError when neither can be read.

    A workbook's cells come as text the way a person reads them: a number without ``.0``
    (a phone typed as a number), a date as ``2026-11-29``.
    """
    if data.startswith(XLSX_MAGIC):
        return _workbook(data, name)
    records, encoding = parse_rows(data, name)
    return Sheet(tuple(records), encoding)


def _workbook(data: bytes, name: str) -> Sheet:
    from openpyxl import load_workbook  # only a workbook needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a damaged zip or XML raises any of a dozen types
        raise CsvError(f"{name}: not an Excel workbook (.xlsx) that can be read ({exc}): "
                       f"{SAVE_AS}, or save it again as .xlsx") from None
    try:
        sheets = [[(number, tuple(cell_text(v) for v in values))
                   for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
                  for sheet in book.worksheets]
        others = tuple(sheet.title for sheet, rows in zip(book.worksheets[1:], sheets[1:],
                                                          strict=True)
                       if any(_filled(fields) for _, fields in rows))
    finally:
        book.close()
    return Sheet(tuple((n, fields) for n, fields in sheets[0] if _filled(fields)), "xlsx",
                 others)


def _filled(fields: tuple[str, ...]) -> bool:
    return any(f.strip() for f in fields)


def cell_text(value: object) -> str:
    """A workbook's cell as text: numbers without '.0', dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def column_key(text: str) -> str:
    """A column's name as compared: NFKC, lower case, without spaces and '*', ':' (or '：')."""
    return re.sub(r"[\s*:]", "", unicodedata.normalize("NFKC", text).lower())


def parse_rows(data: bytes, name: str) -> tuple[list[tuple[int, tuple[str, ...]]], str]:
    """Every row that is not blank, with the line it starts on, and the file's encoding.

    For a list whose header is not on its first line (a title above it); CsvError for a file
    that is not well-formed CSV.
    """
    text, encoding = decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, tuple[str, ...]]] = []
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvError(f"{name}: line {start}: {_explain(exc)}") from None
        if _filled(fields):  # blank lines carry nothing
            records.append((start, tuple(fields)))
    return records, encoding


def _fit(fields: tuple[str, ...], width: int) -> tuple[str, ...]:
    """Pad a short row with empty values; drop empty trailing ones (checked before)."""
    return (*fields[:width], *[""] * (width - len(fields)))


def _explain(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return 'a quote (") opened here is never closed: the rest of the file would be one value'
    if "field larger than field limit" in text:
        return (f"a value longer than {csv.field_size_limit() // 1024} KB: "
                'is a quote (") opened here and never closed?')
    if "expected after" in text:
        return 'a quote (") closes in the middle of a value: double it ("") inside quotes'
    return f"not valid CSV ({text})"
