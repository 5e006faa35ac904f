"""Hostile uploads, made here byte for byte: the files of issue 18 that cost the site gigabytes.

Each is small on the wire and huge once read by a reader that trusts it: a workbook whose
``<dimension>`` claims the whole sheet, a workbook whose sheet inflates a thousandfold, one whose
zip directory lies about that size, and a door photo of 7000 x 7000 transparent pixels. Used by
``make proofs`` (bench/proofs/uploads.py, which measures what they cost a real ``shelf web``)
and by the tests that check each is refused.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
HEADER_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>户号</t></is></c>'
              '<c r="B1" t="inlineStr"><is><t>状态</t></is></c></row>')


def workbook(sheet_xml: bytes) -> bytes:
    """A minimal workbook (what Excel needs to open it) whose one sheet is ``sheet_xml``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", PACKAGE_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def dimension_bomb() -> bytes:
    """1.5 KB: three rows, the last on the sheet's last row, and a ``<dimension>`` that says the
    sheet fills all 17 billion cells.

    A reader that sizes its rows by the dimension, and fills the rows missing in between,
    builds 1,048,576 rows of 16,384 cells.
    """
    sheet = (SHEET_HEAD + '<dimension ref="A1:XFD1048576"/><sheetData>' + HEADER_ROW
             + '<row r="2"><c r="A2" t="inlineStr"><is><t>24-2304</t></is></c>'
             '<c r="B2" t="inlineStr"><is><t>新增</t></is></c></row>'
             '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>24-2403</t></is></c></row>'
             '</sheetData></worksheet>')
    return workbook(sheet.encode())


def deflate_bomb(rows: int = 1_200_000) -> bytes:
    """~200 KB: a sheet of ``rows`` identical short rows, ~70 MB of XML once inflated."""
    row = b'<row><c t="inlineStr"><is><t>24-2304</t></is></c></row>'
    sheet = (SHEET_HEAD + "<sheetData>" + HEADER_ROW).encode() + row * rows + (
        b"</sheetData></worksheet>")
    return workbook(sheet)


def lying_bomb(rows: int = 1_200_000) -> bytes:
    """The deflate bomb with its zip directory claiming the sheet inflates to 1 KB.

    A reader that checks the declared sizes only lets it through; what is actually inflated
    must be counted as it is read.
    """
    data = bytearray(deflate_bomb(rows))
    book = zipfile.ZipFile(io.BytesIO(bytes(data)))
    sheet = book.getinfo("xl/worksheets/sheet1.xml")
    # The local header's size (offset 22) and the central directory's (offset 24 of its entry).
    struct.pack_into("<I", data, sheet.header_offset + 22, 1024)
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"xl/worksheets/sheet1.xml") + 1)
    struct.pack_into("<I", data, entry + 24, 1024)
    return bytes(data)


def wide_row() -> bytes:
    """A sheet whose second row has a value in the last column (XFD), 16,384 cells wide."""
    sheet = (SHEET_HEAD + "<sheetData>" + HEADER_ROW
             + '<row r="2"><c r="A2" t="inlineStr"><is><t>24-2304</t></is></c>'
             '<c r="XFD2"><v>1</v></c></row></sheetData></worksheet>')
    return workbook(sheet.encode())


def big_png(side: int = 7000) -> bytes:
    """~185 KB: a ``side`` x ``side`` transparent RGBA PNG; 196 MB once decoded."""
    raw_row = b"\x00" + b"\x00" * (4 * side)  # filter byte, then the pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def compound_list(rows: int = 5_000) -> bytes:
    """The honest counterpart: a whole compound's observation list as Excel saves it.

    ``rows`` households with a status and a date, numbers typed as numbers.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["楼栋", "房号", "状态", "日期", "备注"])
    for n in range(rows):
        building, room = n % 35 + 1, 101 + n // 35 % 30 * 100 + n % 4
        sheet.append([building, room, "新增" if n % 3 else "解除", "2026-11-29",
                      f"第 {n} 户的备注"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def largest_list() -> bytes:
    """A workbook as large as the limits let a list be read: just under ``MAX_CELLS`` cells, on
    just under ``MAX_ROWS`` rows, under the largest upload; every row names a household."""
    import random

    from kiosk.sheets import MAX_CELLS, MAX_ROWS

    width = 13
    rng = random.Random(18)
    rows = [HEADER_ROW]
    for n in range(2, min(MAX_ROWS, MAX_CELLS // width) + 1):
        cells = "".join(f"<c><v>{rng.randrange(10_000)}</v></c>" for _ in range(width - 2))
        rows.append(f'<row r="{n}"><c t="inlineStr"><is><t>{n % 35 + 1}-{n % 3000 + 101}</t>'
                    f'</is></c><c t="inlineStr"><is><t>新增</t></is></c>{cells}</row>')
    return workbook((SHEET_HEAD + "<sheetData>" + "".join(rows)
                     + "</sheetData></worksheet>").encode())
