"""A list as read, whatever its file (CSV, XLSX): its rows, the bounds of a real list, and
the errors of reading one.

The readers (``kiosk.csvfile`` for CSV and the one ``read_sheet``, ``kiosk.workbook`` for an
XLSX) share these: a list is read within the bounds of a real one (a compound has thousands of
households, not millions), and a file past any of them is refused as it is read
(``ListTooLarge``, naming the limit), before it costs more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

SAVE_AS = "save as CSV UTF-8"
# What a real list needs, with room to spare: a large compound has 5,000-10,000 households, a
# list a handful of columns (an export of a district's system a few dozen). The work of reading
# a file, and what it holds in memory, stay within these however the file is made.
MAX_ROWS = 20_000  # rows that hold something (a workbook's: no value below this row either)
MAX_COLUMNS = 100  # no value right of this column (CV)
MAX_CELLS = 250_000  # cells a workbook's sheet writes, or fields a CSV file's rows have
MAX_UNPACKED = 16 * 1024 * 1024  # bytes of XML a workbook unpacks to (a 10,000-row list: ~4 MB)


class CsvError(ValueError):
    """The file is not CSV the shelf can read; the message names the file and the line."""


class EncodingError(CsvError):
    """The file's text is in an encoding the shelf does not read (not UTF-8, GBK, UTF-16)."""


class ListTooLarge(CsvError):
    """The file is larger than any real list (rows, columns, cells or bytes): not read further.

    ``kind`` names the limit passed (rows, columns, cells, bytes), ``limit`` its value.
    """

    def __init__(self, name: str, kind: str, found: str = "") -> None:
        self.kind, self.limit = kind, LIMITS[kind]
        self.found = found  # where it was passed: "row 1048576", "column XFD"
        where = f"{found}: " if found else ""
        super().__init__(f"{name}: {where}{TOO_LARGE[kind].format(limit=self.limit)}")


LIMITS = {"rows": MAX_ROWS, "columns": MAX_COLUMNS, "cells": MAX_CELLS,
          "bytes": MAX_UNPACKED // (1024 * 1024)}
TOO_LARGE = {
    "rows": "a list has at most {limit:,} rows (a compound has thousands of households): "
            "remove what stands below the list, or split it",
    "columns": "a list has at most {limit} columns: delete the columns right of the list",
    "cells": "a list has at most {limit:,} cells: delete the rows and columns around the list",
    "bytes": "a list unpacks to at most {limit} MB (a compound's list to a few): "
             f"{SAVE_AS}, or save it again as .xlsx",
}


@dataclass(frozen=True)
class Sheet:
    """A list's rows that are not blank, as text, with their line (a workbook's row number)."""

    records: tuple[tuple[int, tuple[str, ...]], ...]
    encoding: str  # utf-8, utf-8-sig, gbk, utf-16 or xlsx
    other_sheets: tuple[str, ...] = ()  # a workbook's later sheets that hold something (unread)


def filled(fields: tuple[str, ...]) -> bool:
    """The row holds something (a value that is not blank)."""
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
