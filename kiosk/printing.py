"""Labels people can read: the QR code beside the community's name, the building-room in large
type, the parcel's reference and the date. One label as PDF or PNG, or an A4 sheet of them.

The QR code carries ``kiosk.labels.make_label``'s payload and is drawn module by module as
squares, so it stays sharp at any printer's resolution. A label names a household only when it
is in the household list: a label for a flat that does not exist would be refused at the gate.

Chinese needs a CJK TrueType font embedded in the PDF. Reportlab's built-in CID font
(STSong-Light) is not embedded, and a reader without Adobe's Chinese font pack draws nothing in
its place (poppler without poppler-data does exactly that); Noto CJK is OpenType with CFF
outlines, which reportlab cannot embed. WenQuanYi Micro Hei (Debian's fonts-wqy-microhei,
installed by scripts/setup-system) is looked for first; only the glyphs used are embedded.

The sheet: A4 portrait, 2 columns x 7 rows of 99.1 x 38.1 mm labels (14 a page), margins 15.15
mm top and bottom and 4.65 mm left and right, columns 2.5 mm apart: the common "14 per sheet"
self-adhesive label paper (Avery L7163 / J8163 layout). On plain A4, cut along the grey borders.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from kiosk.config import Config
from kiosk.csvfile import read_table
from kiosk.domain import HouseholdId
from kiosk.errors import ShelfError, UnknownHousehold
from kiosk.labels import ParcelLabel, door_payload, parcel_label, qr_modules
from kiosk.ports import UnitOfWork

MM = 72 / 25.4  # PDF points in a millimetre
A4_MM = (210.0, 297.0)
FONT_FILES = (  # TrueType CJK fonts as Debian (and Raspberry Pi OS) installs them
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
PDF_FONT = "ShelfCJK"
QUIET_MODULES = 4  # the white border a QR code needs around it to be found
# QR error correction of what is printed (segno's levels: l, m, q, h), measured by
# `python -m bench labels` (the README's table says why): the label's 36 mm code stays at M (Q
# and H give it 29 modules for 25, too fine at 640x480 and under a smear); the door sticker's
# 50 mm code at H reads more under glare, its modules still 2.6 px at 60 cm on a phone.
LABEL_ERROR = "m"
STICKER_ERROR = "h"
COLUMNS = {  # a sheet's column names (lower-cased) -> what they hold
    "household": "household", "住户": "household", "户号": "household",
    "building": "building", "楼栋": "building", "栋": "building",
    "room": "room", "房号": "room", "房间": "room",
    "ref": "ref", "reference": "ref", "单号": "ref",
}


class FontMissing(ShelfError):
    """No CJK TrueType font to print the labels' Chinese text with."""

    code = "no_font"


class SheetRefused(ShelfError):
    """A sheet's CSV names households not in the list, or rows that make no label."""

    code = "sheet_refused"

    def __init__(self, message: str, problems: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)  # (line, reason)


@dataclass(frozen=True)
class Grid:
    """Where labels sit on a page, in millimetres from the page's top-left corner."""

    columns: int
    rows: int
    width: float
    height: float
    left: float
    top: float
    pitch_x: float
    pitch_y: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def corner(self, index: int) -> tuple[float, float]:
        """The top-left corner of the ``index``-th label on its page, row by row."""
        row, column = divmod(index % self.per_page, self.columns)
        return self.left + column * self.pitch_x, self.top + row * self.pitch_y


SHEET = Grid(columns=2, rows=7, width=99.1, height=38.1, left=4.65, top=15.15,
             pitch_x=101.6, pitch_y=38.1)


@dataclass(frozen=True)
class PrintedLabel:
    """What one label shows: the parcel's code, its community and the day it was printed."""

    parcel: ParcelLabel
    community: str
    day: date

    @property
    def payload(self) -> str:
        return self.parcel.payload


def label_for(uow: UnitOfWork, config: Config, household: HouseholdId, ref: str | None,
              now: datetime, *, fresh: bool = False) -> PrintedLabel:
    """A label for a household of the list, or raise UnknownHousehold (masked)."""
    with uow:
        known = uow.households.get(household) is not None
    if not known:
        raise UnknownHousehold(f"{household.masked()} is not in the household list: check the "
                               "building and room, or import the list with the flat",
                               given=str(household))
    return _printed(config, parcel_label(config.label_secret, household, ref, fresh=fresh), now)


def sheet_labels(uow: UnitOfWork, config: Config, source: Path | str,
                 now: datetime) -> list[PrintedLabel]:
    """One label per row of a CSV (household or building and room, optional ref).

    Refuses the whole sheet, naming every bad line, when a row's household is not in the list,
    a row makes no label, or two rows would print the same code (the second parcel would be
    taken for a rescan of the first). A blank ref gets a new one.
    """
    path = Path(source)
    table = read_table(path)
    columns = _columns(table.header, path.name)
    with uow:
        known = {str(h.id) for h in uow.households.all()}
    labels: list[PrintedLabel] = []
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for line, fields in table.rows:
        row = {columns[name]: value.strip() for name, value in zip(table.header, fields,
                                                                    strict=True)
               if name in columns}
        try:
            parcel = _row_label(row, known, config.label_secret)
        except (ShelfError, ValueError) as exc:
            problems.append((line, str(exc)))
            continue
        key = (str(parcel.household), parcel.ref)
        if key in seen:
            shown = parcel.household.masked()
            problems.append((line, f"the same label as line {seen[key]} ({shown}, "
                                   f"{parcel.ref}): give each parcel its own ref"))
            continue
        seen[key] = line
        labels.append(_printed(config, parcel, now))
    if problems:
        reasons = "; ".join(f"line {line}: {reason}" for line, reason in problems)
        raise SheetRefused(f"{path.name}: {len(problems)} of {len(table.rows)} rows refused, "
                           f"nothing written: {reasons}", problems)
    if not labels:
        raise SheetRefused(f"{path.name}: no rows below the header: nothing to print")
    return labels


def _columns(header: Sequence[str], name: str) -> dict[str, str]:
    """The header's known columns -> what they hold; refuse a header that names no flat."""
    columns = {h: COLUMNS[h] for h in header if h in COLUMNS}
    held = set(columns.values())
    if "household" not in held and not {"building", "room"} <= held:
        raise SheetRefused(f"{name}: the first line must name the columns household,ref or "
                           "building,room,ref (楼栋,房号,单号)")
    if "household" in held and held & {"building", "room"}:
        raise SheetRefused(f"{name}: name the flat by household, or by building and room, "
                           "not both")
    return columns


def _row_label(row: dict[str, str], known: set[str], secret: bytes) -> ParcelLabel:
    text = row.get("household") or "-".join(filter(None, (row.get("building"),
                                                          row.get("room"))))
    if not text:
        raise ValueError("no household: give the building and room, e.g. 24-2304")
    household = HouseholdId.parse(text)
    if str(household) not in known:
        raise UnknownHousehold(f"{household.masked()} is not in the household list",
                               given=str(household))
    return parcel_label(secret, household, row.get("ref") or None)


def _printed(config: Config, parcel: ParcelLabel, now: datetime) -> PrintedLabel:
    day = now.astimezone(config.community.timezone).date()  # the community's date, not UTC's
    return PrintedLabel(parcel, config.community.name, day)


def pages(count: int, grid: Grid = SHEET) -> int:
    """How many pages ``count`` labels fill."""
    return -(-count // grid.per_page)


def cjk_font() -> Path:
    """The first CJK TrueType font installed, or raise FontMissing saying what to install."""
    for name in FONT_FILES:
        if Path(name).is_file():
            return Path(name)
    raise FontMissing("no Chinese font to print labels with: install fonts-wqy-microhei "
                      "(scripts/setup-system does)")


# Drawing. A label is laid out once, in points from its bottom-left corner, on a surface:
# a PDF page (reportlab) or a PNG (Pillow), so both show the same label.

class _Surface(Protocol):
    def text_width(self, text: str, size: float) -> float: ...

    def text(self, x: float, y: float, text: str, size: float) -> None:
        """Draw ``text`` with its baseline starting at (x, y)."""

    def fill(self, x: float, y: float, width: float, height: float) -> None:
        """Fill a black rectangle whose bottom-left corner is (x, y)."""


def draw_label(surface: _Surface, label: PrintedLabel, width: float, height: float, *,
               error: str = LABEL_ERROR) -> None:
    """Lay out one label: the QR code on the left, the text for people on the right."""
    side = height - 2 * MM  # the code's square, its quiet zone included
    _draw_qr(surface, label.payload, 1 * MM, height - 1 * MM, side, error)
    x = 1 * MM + side + 0.5 * MM
    column = width - x - 2.5 * MM
    household = label.parcel.household
    lines = [(*_fitted(surface, text, size, column), above) for text, size, above in (
        # (text, size in points, space above it)
        (label.community, 8.5, 0.0),
        (f"{household.building}栋 {household.room}", 30.0, 2.5),
        (str(household), 16.0, 2.5),
        (f"单号 Ref {label.parcel.ref}" + (" · 生鲜 FRESH" if label.parcel.fresh else ""), 9.5,
         4.0),
        (label.day.isoformat(), 9.5, 2.0),
    )]
    y = (height + sum(size + above for _, size, above in lines)) / 2  # centred beside the code
    for text, size, above in lines:
        y -= above + size * 0.88  # the font's ascent: CJK glyphs reach almost the full size
        surface.text(x, y, text, size)
        y -= size * 0.12


def _fitted(surface: _Surface, text: str, size: float, width: float) -> tuple[str, float]:
    """Shrink ``text`` to fit ``width`` (down to 60 % of ``size``), then cut it with '…'."""
    fitted = size
    while surface.text_width(text, fitted) > width and fitted > size * 0.6:
        fitted -= 0.5
    while surface.text_width(text, fitted) > width and len(text) > 1:
        text = text[:-2] + "…"
    return text, fitted


def _draw_qr(surface: _Surface, payload: str, left: float, top: float, side: float,
             error: str) -> None:
    modules = qr_modules(payload, error)
    step = side / (len(modules) + 2 * QUIET_MODULES)
    x0, y0 = left + QUIET_MODULES * step, top - QUIET_MODULES * step
    for r, row in enumerate(modules):
        c = 0
        while c < len(row):  # one rectangle per run of dark modules: fewer seams, smaller files
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            surface.fill(x0 + start * step, y0 - (r + 1) * step, (c - start) * step, step)


class _PdfSurface:
    """A reportlab canvas, drawing into the label whose bottom-left corner is (x, y)."""

    def __init__(self, canvas: Any, x: float = 0.0, y: float = 0.0) -> None:
        self.canvas, self.x, self.y = canvas, x, y

    def text_width(self, text: str, size: float) -> float:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return stringWidth(text, PDF_FONT, size)

    def text(self, x: float, y: float, text: str, size: float) -> None:
        self.canvas.setFont(PDF_FONT, size)
        self.canvas.drawString(self.x + x, self.y + y, text)

    def fill(self, x: float, y: float, width: float, height: float) -> None:
        self.canvas.rect(self.x + x, self.y + y, width, height, stroke=0, fill=1)


class _PngSurface:
    """A Pillow image of one label at ``dpi``; y runs up, as on the PDF."""

    def __init__(self, width: float, height: float, dpi: int, font: Path) -> None:
        from PIL import Image, ImageDraw

        self.scale = dpi / 72
        self.image = Image.new("L", (round(width * self.scale), round(height * self.scale)), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.font_file, self.fonts = font, {}

    def _font(self, size: float) -> Any:
        from PIL import ImageFont

        pixels = max(1, round(size * self.scale))
        if pixels not in self.fonts:
            self.fonts[pixels] = ImageFont.truetype(str(self.font_file), pixels, index=0)
        return self.fonts[pixels]

    def text_width(self, text: str, size: float) -> float:
        return self._font(size).getlength(text) / self.scale

    def text(self, x: float, y: float, text: str, size: float) -> None:
        self.draw.text((x * self.scale, self.image.height - y * self.scale), text, fill=0,
                       font=self._font(size), anchor="ls")

    def fill(self, x: float, y: float, width: float, height: float) -> None:
        # Round edges, not sizes, so neighbouring modules meet without a gap or an overlap.
        left, right = round(x * self.scale), round((x + width) * self.scale)
        top = self.image.height - round((y + height) * self.scale)
        bottom = self.image.height - round(y * self.scale)
        self.draw.rectangle((left, top, right - 1, bottom - 1), fill=0)


def label_png(label: PrintedLabel, dpi: int = 300, *, error: str = LABEL_ERROR) -> bytes:
    """One label as a PNG the size of a sheet's label (99.1 x 38.1 mm at ``dpi``)."""
    return _png(draw_label, label, SHEET, dpi, error)


def _png(draw: Callable[..., None], item: Any, grid: Grid, dpi: int, error: str) -> bytes:
    """``item`` drawn by ``draw`` as a PNG of one ``grid`` cell at ``dpi``."""
    surface = _PngSurface(grid.width * MM, grid.height * MM, dpi, cjk_font())
    draw(surface, item, grid.width * MM, grid.height * MM, error=error)
    out = io.BytesIO()
    surface.image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def label_pdf(label: PrintedLabel) -> bytes:
    """One label on a page of its own size (99.1 x 38.1 mm), for a label printer."""
    width, height = SHEET.width * MM, SHEET.height * MM
    canvas, out = _canvas((width, height), f"{label.community}: {label.parcel.ref}")
    draw_label(_PdfSurface(canvas), label, width, height)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def sheet_pdf(labels: Sequence[PrintedLabel], grid: Grid = SHEET) -> bytes:
    """The labels on A4 pages, ``grid.per_page`` a page, each framed by a cutting border."""
    title = labels[0].community if labels else ""
    return _sheet(labels, grid, draw_label, title, f"{title}: {len(labels)} labels")


def _sheet(items: Sequence[Any], grid: Grid, draw: Callable[[Any, Any, float, float], None],
           title: str, document: str) -> bytes:
    """``items`` drawn by ``draw(surface, item, width, height)`` into ``grid`` on A4 pages."""
    page_w, page_h = A4_MM[0] * MM, A4_MM[1] * MM
    canvas, out = _canvas((page_w, page_h), document)
    total = pages(len(items), grid)
    for index, item in enumerate(items):
        left, top = grid.corner(index)
        x, y = left * MM, page_h - (top + grid.height) * MM
        canvas.setStrokeGray(0.6)
        canvas.setLineWidth(0.3)
        canvas.rect(x, y, grid.width * MM, grid.height * MM, stroke=1, fill=0)
        draw(_PdfSurface(canvas, x, y), item, grid.width * MM, grid.height * MM)
        if index % grid.per_page == grid.per_page - 1 or index == len(items) - 1:
            _footer(canvas, title, index // grid.per_page + 1, total, grid)
            canvas.showPage()
    canvas.save()
    return out.getvalue()


def _footer(canvas: Any, title: str, page: int, total: int, grid: Grid) -> None:
    canvas.setFont(PDF_FONT, 7)
    canvas.setFillGray(0.4)
    canvas.drawString(grid.left * MM, 6 * MM, f"{title}  第 {page}/{total} 页 page {page} of "
                      f"{total}  {grid.width} x {grid.height} mm")
    canvas.setFillGray(0)


def _canvas(size: tuple[float, float], title: str) -> tuple[Any, io.BytesIO]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    font = cjk_font()  # looked for each time, so a missing one is said, whatever came before
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONT, str(font), subfontIndex=0))
    out = io.BytesIO()
    # invariant: no creation time inside, so the same labels make the same file
    canvas = Canvas(out, pagesize=size, invariant=1, initialFontName=PDF_FONT)
    canvas.setTitle(title)
    canvas.setCreator("delivery shelf")
    return canvas, out


# Door stickers: one signed QR per household of a building, for staff to put on the doors at
# the start of a lockdown; at the door, the phone reads it and the shelf refuses any other door.
# A4, 2 x 3 stickers of 90 x 90 mm a page (cut along the grey borders).
STICKERS = Grid(columns=2, rows=3, width=90.0, height=90.0, left=10.0, top=13.5,
                pitch_x=100.0, pitch_y=90.0)


@dataclass(frozen=True)
class DoorSticker:
    """What one door sticker shows: its household's signed door code, in the community."""

    household: HouseholdId
    payload: str
    community: str


def building_stickers(uow: UnitOfWork, config: Config, building: int) -> list[DoorSticker]:
    """A sticker for every household of ``building`` in the list, in room order."""
    if building not in config.community.buildings:
        raise UnknownHousehold(f"building {building} is not in [community] buildings")
    with uow:
        households = uow.households.in_building(building)
    if not households:
        raise UnknownHousehold(f"building {building} has no households in the list: import "
                               "the household list first")
    rooms = sorted(households, key=lambda h: (len(h.id.room), h.id.room))
    return [DoorSticker(h.id, door_payload(config.label_secret, h.id), config.community.name)
            for h in rooms]


def draw_sticker(surface: _Surface, sticker: DoorSticker, width: float, height: float, *,
                 error: str = STICKER_ERROR) -> None:
    """Lay out one sticker: the community, the QR code, the room in large type, what it is for."""
    def centred(text: str, y: float, size: float) -> None:
        text, size = _fitted(surface, text, size, width - 8 * MM)
        surface.text((width - surface.text_width(text, size)) / 2, y, text, size)

    household = sticker.household
    side = 50 * MM  # the code's square, its quiet zone included
    centred(sticker.community, height - 7 * MM, 10)
    _draw_qr(surface, sticker.payload, (width - side) / 2, height - 9 * MM, side, error)
    centred(f"{household.building}栋 {household.room}", 18 * MM, 36)
    centred(f"{household} · 门贴 Door sticker", 10 * MM, 12)
    centred("送货上门时请扫码确认门牌 Staff: scan this at the door when delivering", 4 * MM, 7.5)


def sticker_png(sticker: DoorSticker, dpi: int = 300, *, error: str = STICKER_ERROR) -> bytes:
    """One door sticker as a PNG (90 x 90 mm at ``dpi``)."""
    return _png(draw_sticker, sticker, STICKERS, dpi, error)


def sticker_pdf(stickers: Sequence[DoorSticker], grid: Grid = STICKERS) -> bytes:
    """The stickers on A4 pages, ``grid.per_page`` a page, each framed by a cutting border."""
    title = stickers[0].community if stickers else ""
    return _sheet(stickers, grid, draw_sticker, title, f"{title}: {len(stickers)} door stickers")
