"""Read a list kept in a spreadsheet: decode its CSV as Excel saves it, refuse a broken one.

For every list the staff import (households, the daily observation list, label sheets): the one
reader of CSV and XLSX (``read_sheet``). Accepted encodings are what Excel saves: "CSV UTF-8"
(UTF-8 with a BOM), plain UTF-8, "CSV" on a Chinese Windows (GBK), and UTF-16 with a BOM; a
workbook (XLSX) is read from its first sheet. A file that is not well-formed CSV (a quote never
closed, a row with more values than the header names, a field over 128 KB) is refused whole
with one line naming the line, since guessing where its rows end could put one flat's data on
another.

A list is read within the bounds of a real one (a compound has thousands of households, not
millions): at most ``MAX_ROWS`` rows, a value no further right than column ``MAX_COLUMNS``,
``MAX_CELLS`` cells, and a workbook that unpacks to ``MAX_UNPACKED`` bytes of XML at most
(``kiosk.workbook``, which believes none of the sizes a workbook declares). A file past any of
them is refused as it is read (``ListTooLarge``, naming the limit), before it costs more. An
upload is read once, and what it read as is kept with it (``reading_of``, ``read_sheet``'s
``reading``): a preview opened again does not read the file again.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kiosk.sheets import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    SAVE_AS,
    CsvError,
    EncodingError,
    ListTooLarge,
    Sheet,
    filled,
)

XLSX_MAGIC = b"PK\x03\x04"  # a workbook is a zip file
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls): an OLE compound file
READING_VERSION = 1  # of what ``reading_of`` keeps: another version is read again from the bytes


@dataclass(frozen=True)
class Table:
    """A CSV file's header (names trimmed, lower-cased) and its rows with their line numbers."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]  # (line where the row starts, its fields)
    encoding: str
    other_sheets: tuple[str, ...] = ()  # a workbook's later sheets that hold something


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


def parse_table(data: bytes, name: str, reading: str | None = None) -> Table:
    """The table in a CSV file's or workbook's bytes (``name`` is the file's, for messages;
    ``reading``: what ``reading_of`` kept of them)."""
    sheet = read_sheet(data, name, reading)
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


def read_sheet(data: bytes, name: str, reading: str | None = None) -> Sheet:
    """The rows of a CSV file or of a workbook's first sheet; CsvError when neither can be read.

    A workbook's cells come as text the way a person reads them: a number without ``.0``
    (a phone typed as a number), a date as ``2026-11-29``. ``reading`` is what ``reading_of``
    kept of these bytes: given, the file is not read again.
    """
    kept = _kept(reading)
    if kept is not None:
        return kept
    if data.startswith(XLSX_MAGIC):
        from kiosk.workbook import read_workbook  # only a workbook needs it

        return read_workbook(data, name)
    records, encoding = parse_rows(data, name)
    return Sheet(tuple(records), encoding)


def reading_of(data: bytes, name: str) -> str:
    """What a list's bytes read as, to keep with them (JSON): its rows, or why it cannot be read.

    Raises ListTooLarge: a file larger than any list is refused, not kept.
    """
    try:
        sheet = read_sheet(data, name)
    except ListTooLarge:
        raise
    except CsvError as exc:
        return json.dumps({"version": READING_VERSION, "error": str(exc),
                           "encoding_error": isinstance(exc, EncodingError)}, ensure_ascii=False)
    return json.dumps({"version": READING_VERSION, "encoding": sheet.encoding,
                       "records": sheet.records, "other_sheets": sheet.other_sheets},
                      ensure_ascii=False)


def _kept(reading: str | None) -> Sheet | None:
    """The sheet ``reading_of`` kept (None: nothing kept, or by another version); its error."""
    kept = json.loads(reading) if reading else {}
    if kept.get("version") != READING_VERSION:
        return None
    if "error" in kept:
        raise (EncodingError if kept["encoding_error"] else CsvError)(kept["error"])
    return Sheet(tuple((line, tuple(fields)) for line, fields in kept["records"]),
                 kept["encoding"], tuple(kept["other_sheets"]))


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
    cells = 0
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvError(f"{name}: line {start}: {_explain(exc)}") from None
        if not filled(fields):  # blank lines carry nothing
            continue
        cells += len(fields)
        if len(records) == MAX_ROWS:
            raise ListTooLarge(name, "rows", f"line {start:,}")
        if cells > MAX_CELLS:
            raise ListTooLarge(name, "cells", f"line {start:,}")
        if filled(tuple(fields[MAX_COLUMNS:])):
            raise ListTooLarge(name, "columns", f"line {start:,}")
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
