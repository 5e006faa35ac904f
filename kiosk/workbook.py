"""Read a workbook's (XLSX) first sheet as a list, within the bounds of a real list.

A workbook is a zip of XML parts. Each part is read as a stream (expat, one element at a time,
nothing kept but the cells that hold something), and nothing it declares about its own size is
believed: not the sheet's ``<dimension>`` (``A1:XFD1048576`` is 17 billion cells), nor the
sizes in the zip's directory (a bomb lies there). What is counted instead, as it is read: the
bytes actually unpacked, the rows and columns that hold a value, the cells written; reading
stops at the first limit passed (``kiosk.sheets``' ``MAX_*``) with ``ListTooLarge``. Later
sheets are read only as far as their first value, to say that they hold something.

Cells come as Excel shows them (``kiosk.sheets.cell_text``): a cached formula result, a number
without ``.0``, a date cell (its number format is a date's, as Excel's own and the Chinese
built-in ones are) as ``2026-11-29``.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from abc import ABC, abstractmethod
from datetime import datetime
from xml.parsers import expat

from kiosk.sheets import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_UNPACKED,
    SAVE_AS,
    CsvError,
    ListTooLarge,
    Sheet,
    cell_text,
)

CHUNK = 64 * 1024  # unpacked and parsed at a time
MAX_PARTS = 1_000  # files in the zip; Excel writes a dozen, and a few per sheet
MAX_STYLES = 64_000  # cell formats: Excel's own limit
OFFICE_DOCUMENT = "/officeDocument"  # relationship types end so, whichever schema they use
WORKSHEET, SHARED_STRINGS, STYLES = "/worksheet", "/sharedStrings", "/styles"
# Excel's built-in number formats that show a date or a time (ECMA-376 18.8.30), and those that
# a Chinese Excel shows as one (27-36, 50-58: 2026年11月29日, 上午 9:30 ...).
DATE_FORMATS = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
DURATION_FORMATS = frozenset({46})  # [h]:mm:ss
WINDOWS_EPOCH, MAC_EPOCH = datetime(1899, 12, 30), datetime(1904, 1, 1)
CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?\d+$")


class _Unreadable(Exception):
    """The workbook is damaged or is not one: said in one line by ``read_workbook``."""


def read_workbook(data: bytes, name: str) -> Sheet:
    """The rows that hold something on a workbook's first sheet, and its other sheets' names
    that hold something; ListTooLarge past a limit, CsvError for a damaged workbook."""
    try:
        return _Workbook(data, name).read()
    except _Unreadable as exc:
        raise CsvError(f"{name}: not an Excel workbook (.xlsx) that can be read ({exc}): "
                       f"{SAVE_AS}, or save it again as .xlsx") from None


class _Workbook:
    """The zip's parts, each parsed once at most, under one budget of unpacked bytes."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        self.unpacked = 0
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            parts = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise _Unreadable(f"a damaged zip: {exc}") from None
        if len(parts) > MAX_PARTS:
            raise _Unreadable(f"{len(parts)} files in it")
        self.parts = {info.filename: info for info in parts}

    def read(self) -> Sheet:
        book = self._relations("").first(OFFICE_DOCUMENT) or "xl/workbook.xml"
        related = self._relations(book)
        info = _BookInfo()
        self._parse(book, info)
        worksheets = related.by_id(WORKSHEET)
        sheets = [(title, worksheets[i]) for title, i in info.sheets if i in worksheets]
        if not sheets:
            raise _Unreadable("it has no worksheet")
        strings = _SharedStrings(self.name)
        styles = _Styles()
        for kind, handler in ((SHARED_STRINGS, strings), (STYLES, styles)):
            path = related.first(kind)
            if path is not None:
                self._parse(path, handler)
        epoch = MAC_EPOCH if info.date1904 else WINDOWS_EPOCH
        first = _SheetRows(self.name, strings.values, styles, epoch, first_only=False)
        self._parse(sheets[0][1], first)
        others = []
        for title, path in sheets[1:]:
            later = _SheetRows(self.name, strings.values, styles, epoch, first_only=True)
            self._parse(path, later)
            if later.records:
                others.append(title)
        return Sheet(tuple(first.records), "xlsx", tuple(others))

    def _relations(self, part: str) -> _Relations:
        """The relationships of ``part`` ("": the package's own), their targets as paths."""
        folder, base = posixpath.split(part)
        found = _Relations(folder)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        if rels in self.parts:
            self._parse(rels, found)
        return found

    def _parse(self, path: str, handler: _Handler) -> None:
        """Feed one part to ``handler``, counting every byte unpacked against the budget."""
        info = self.parts.get(path)
        if info is None:
            raise _Unreadable(f"{path} is missing")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Unreadable(f"{path} is packed in a way Excel does not use")
        if info.file_size > MAX_UNPACKED - self.unpacked:  # it says so itself: not worth reading
            raise ListTooLarge(self.name, "bytes")
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True  # a cell's text in one call, not one per chunk boundary
        parser.StartElementHandler = lambda tag, attrs: handler.start(_local(tag), attrs)
        parser.EndElementHandler = lambda tag: handler.end(_local(tag))
        parser.CharacterDataHandler = handler.text
        parser.StartDoctypeDeclHandler = _no_doctype  # no entities: none can expand
        try:
            with self.zip.open(info) as stream:
                while not handler.done and (chunk := stream.read(CHUNK)):
                    self.unpacked += len(chunk)  # what was inflated, whatever the zip says
                    if self.unpacked > MAX_UNPACKED:
                        raise ListTooLarge(self.name, "bytes")
                    parser.Parse(chunk, False)
                if not handler.done:
                    parser.Parse(b"", True)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise _Unreadable(f"{path}: {exc}") from None
        except expat.ExpatError as exc:
            raise _Unreadable(f"{path}: {expat.errors.messages[exc.code]}, line {exc.lineno}"
                              ) from None


def _no_doctype(*_: object) -> None:
    raise _Unreadable("a DOCTYPE, which no workbook has")


def _local(tag: str) -> str:
    """An element's or attribute's name without its namespace ("uri}c" -> "c")."""
    return tag[tag.find("}") + 1:]


def _target(folder: str, target: str) -> str:
    """A relationship's target as a path in the zip (absolute, or relative to ``folder``)."""
    if target.startswith("/"):
        return target[1:]
    return posixpath.normpath(posixpath.join(folder, target))


def _attribute(attrs: dict[str, str], name: str) -> str | None:
    """An attribute by its local name, whatever namespace prefixes it (r:id)."""
    found = attrs.get(name)
    if found is not None:
        return found
    return next((value for key, value in attrs.items() if _local(key) == name), None)


class _Handler:
    """Receives one part's elements as expat reads them; ``done`` stops the reading."""

    done = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        pass

    def end(self, tag: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


class _Relations(_Handler):
    """A part's relationships (``_rels/*.rels``): id, type and target of each, in order."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.relations: list[tuple[str, str, str]] = []  # id, type's last segment, path

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "Relationship" and attrs.get("TargetMode") != "External":
            kind = attrs.get("Type", "")
            self.relations.append((attrs.get("Id", ""), kind[kind.rfind("/"):],
                                   _target(self.folder, attrs.get("Target", ""))))

    def first(self, kind: str) -> str | None:
        return next((path for _, k, path in self.relations if k == kind), None)

    def by_id(self, kind: str) -> dict[str, str]:
        return {i: path for i, k, path in self.relations if k == kind}


class _BookInfo(_Handler):
    """workbook.xml: its sheets in order (name, relationship id) and its date system."""

    def __init__(self) -> None:
        self.sheets: list[tuple[str, str]] = []
        self.date1904 = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "sheet":
            self.sheets.append((attrs.get("name", ""), _attribute(attrs, "id") or ""))
        elif tag == "workbookPr":
            self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")


class _Text(_Handler, ABC):
    """Collects the text of ``<t>`` elements, leaving out phonetic guides (``<rPh>``)."""

    def __init__(self) -> None:
        self.parts: list[str] | None = None  # inside a <t>
        self.phonetic = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "t" and not self.phonetic:
            self.parts = []
        elif tag == "rPh":
            self.phonetic = True

    def end(self, tag: str) -> None:
        if tag == "t" and self.parts is not None:
            self.taken("".join(self.parts))
            self.parts = None
        elif tag == "rPh":
            self.phonetic = False

    def text(self, data: str) -> None:
        if self.parts is not None:
            self.parts.append(data)

    @abstractmethod
    def taken(self, text: str) -> None:
        """Keep the text of one ``<t>`` (each kind of part keeps it where it belongs)."""


class _SharedStrings(_Text):
    """sharedStrings.xml: the text of each ``<si>``, runs of rich text joined."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.values: list[str] = []
        self.current: list[str] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "si":
            self.current = []
            if len(self.values) == MAX_CELLS:
                raise ListTooLarge(self.name, "cells", "its shared strings")
        super().start(tag, attrs)

    def end(self, tag: str) -> None:
        super().end(tag)
        if tag == "si":
            self.values.append("".join(self.current))

    def taken(self, text: str) -> None:
        self.current.append(text)


class _Styles(_Handler):
    """styles.xml: which cell formats (``s`` of a cell) show a date, and which a duration."""

    def __init__(self) -> None:
        self.custom: dict[int, str] = {}  # numFmtId -> formatCode
        self.formats: list[int] = []  # cellXfs: numFmtId of each
        self.in_cell_formats = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "numFmt":
            self.custom[_number(attrs.get("numFmtId"))] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            self.in_cell_formats = True
        elif tag == "xf" and self.in_cell_formats:
            if len(self.formats) == MAX_STYLES:
                raise _Unreadable(f"more than {MAX_STYLES:,} cell formats")
            self.formats.append(_number(attrs.get("numFmtId", "0")))

    def end(self, tag: str) -> None:
        if tag == "cellXfs":
            self.in_cell_formats = False

    def kind(self, style: int) -> str:
        """"date", "duration" or "" (a plain number) for cell format ``style``."""
        from openpyxl.styles.numbers import is_date_format, is_timedelta_format

        fmt_id = self.formats[style] if 0 <= style < len(self.formats) else 0
        code = self.custom.get(fmt_id)
        if code is None:
            return ("duration" if fmt_id in DURATION_FORMATS else
                    "date" if fmt_id in DATE_FORMATS else "")
        if is_timedelta_format(code):
            return "duration"
        return "date" if is_date_format(code) else ""


class _SheetRows(_Text):
    """A worksheet's rows that hold something: (row number, cells as text), within the limits."""

    def __init__(self, name: str, strings: list[str], styles: _Styles, epoch: datetime,
                 first_only: bool) -> None:
        super().__init__()
        self.name, self.strings, self.styles, self.epoch = name, strings, styles, epoch
        self.first_only = first_only  # a later sheet: its first value is all we need to know
        self.records: list[tuple[int, tuple[str, ...]]] = []
        self.kinds: dict[int, str] = {}  # style -> date, duration or "" (looked up once)
        self.row, self.column, self.cells = 0, 0, 0
        self.values: dict[int, str] = {}  # the row's cells that hold something: column -> text
        self.cell: tuple[int, str, int] | None = None  # column, type, style of the open <c>
        self.value: list[str] | None = None  # its <v>'s text, while it is read
        self.raw: str | None = None  # its <v>'s text, once read
        self.inline: list[str] = []  # its inline string's text

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "row":
            self.row = _number(attrs["r"]) if "r" in attrs else self.row + 1
            self.column, self.values = 0, {}
        elif tag == "c":
            self.cells += 1
            if self.cells > MAX_CELLS:
                raise ListTooLarge(self.name, "cells", f"row {self.row:,}")
            self.column = _column(attrs["r"]) if "r" in attrs else self.column + 1
            self.cell = (self.column, attrs.get("t", "n"), _number(attrs.get("s", "0")))
            self.raw, self.inline = None, []
        elif tag == "v" and self.cell is not None:
            self.value = []
        else:
            super().start(tag, attrs)

    def text(self, data: str) -> None:
        if self.value is not None:
            self.value.append(data)
        else:
            super().text(data)

    def taken(self, text: str) -> None:
        if self.cell is not None:  # an inline string's <t>
            self.inline.append(text)

    def end(self, tag: str) -> None:
        if tag == "v" and self.value is not None:
            self.raw, self.value = "".join(self.value), None
        elif tag == "c" and self.cell is not None:
            self._keep(*self.cell)
            self.cell = None
        elif tag == "row":
            self._row_read()
        else:
            super().end(tag)

    def _keep(self, column: int, kind: str, style: int) -> None:
        if kind == "inlineStr":
            text = "".join(self.inline)
        else:
            text = "" if self.raw is None else self._text(self.raw, kind, style)
        if not text.strip():
            return
        if column > MAX_COLUMNS:
            raise ListTooLarge(self.name, "columns", f"row {self.row:,}, column "
                               f"{_letters(column)}")
        self.values[column] = text

    def _row_read(self) -> None:
        if not self.values:
            return
        if self.row > MAX_ROWS or len(self.records) == MAX_ROWS:
            raise ListTooLarge(self.name, "rows", f"row {self.row:,}")
        width = max(self.values)
        self.records.append((self.row, tuple(self.values.get(c, "")
                                             for c in range(1, width + 1))))
        self.done = self.first_only
        self.values = {}

    def _text(self, raw: str, kind: str, style: int) -> str:
        """A cell's value as Excel shows it, from its ``<v>`` and type."""
        try:
            if kind == "s":
                return self.strings[int(raw)]
            if kind in ("str", "e"):
                return raw
            if kind == "b":
                return cell_text(bool(int(raw)))
            if kind == "d":
                return cell_text(datetime.fromisoformat(raw.removesuffix("Z")))
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
        except (ValueError, IndexError):
            raise _Unreadable(f"row {self.row}: the value {raw[:20]!r} of a {kind!r} cell"
                              ) from None
        return cell_text(self._dated(number, style))

    def _dated(self, number: float, style: int) -> object:
        kind = self.kinds.get(style)
        if kind is None:
            kind = self.kinds[style] = self.styles.kind(style)
        if not kind:
            return number
        from openpyxl.utils.datetime import from_excel

        try:
            return from_excel(number, self.epoch, timedelta=kind == "duration")
        except (OverflowError, ValueError):
            return "#VALUE!"  # as Excel shows a date it cannot show


def _number(text: str | None) -> int:
    """A whole number attribute (a row, a style); _Unreadable when it is none."""
    try:
        value = float(text or "")
    except ValueError:
        raise _Unreadable(f"{text!r} is not a number") from None
    if not value.is_integer() or value < 0:
        raise _Unreadable(f"{text!r} is not a whole number")
    return int(value)


def _column(ref: str) -> int:
    """The column of a cell reference (``XFD2`` -> 16384)."""
    match = CELL_REF.match(ref)
    if match is None:
        raise _Unreadable(f"{ref[:20]!r} is not a cell")
    column = 0
    for letter in match[1].upper():
        column = column * 26 + ord(letter) - ord("A") + 1
    return column


def _letters(column: int) -> str:
    """A column's letters (16384 -> XFD), as Excel shows them."""
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters

