"""A list is read within the bounds of a real one (issue 18): a workbook's declared sizes are
never believed, what it unpacks is counted, and a CSV file's rows are bounded the same way.

The hostile files are made byte for byte (bench/hostile.py); the honest ones by openpyxl, as
Excel would save them."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from bench import hostile
from kiosk.csvfile import read_sheet, reading_of
from kiosk.sheets import MAX_CELLS, MAX_COLUMNS, MAX_ROWS, CsvError, EncodingError, ListTooLarge


def saved(*sheets: list[list[object]], date1904: bool = False) -> bytes:
    book = Workbook()
    if date1904:
        book.epoch = CALENDAR_MAC_1904
    for number, rows in enumerate(sheets):
        sheet = book.active if number == 0 else book.create_sheet(f"第{number + 1}页")
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_xml(rows: str, head: str = "") -> bytes:
    return (hostile.SHEET_HEAD + head + "<sheetData>" + rows + "</sheetData></worksheet>").encode()


def with_parts(sheet: bytes, *, strings: bytes, styles: bytes) -> bytes:
    """A workbook of ``sheet`` with its shared strings and its styles."""
    related = "".join(
        f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships/{kind}" Target="{kind}.xml"/>'
        for n, kind in ((2, "sharedStrings"), (3, "styles")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", hostile.CONTENT_TYPES)
        book.writestr("_rels/.rels", hostile.PACKAGE_RELS)
        book.writestr("xl/workbook.xml", hostile.WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels",
                      hostile.WORKBOOK_RELS.replace("</Relationships>",
                                                    related + "</Relationships>"))
        book.writestr("xl/worksheets/sheet1.xml", sheet)
        book.writestr("xl/sharedStrings.xml", strings)
        book.writestr("xl/styles.xml", styles)
    return out.getvalue()


# --- what an honest workbook reads as ----------------------------------------------------------

def test_cells_read_as_excel_shows_them():
    data = saved([["楼栋", "房号", "电话", "面积", "日期", "到达", "已通知", "备注"],
                  [24, 2304, 13800002304, 88.5, date(2026, 11, 29), datetime(2026, 11, 29, 9, 30),
                   True, "  两个空格  "],
                  [], [None, None, None, None, None, None, None, "第 4 行"]])
    sheet = read_sheet(data, "名单.xlsx")
    assert sheet.encoding == "xlsx" and sheet.other_sheets == ()
    assert sheet.records == (
        (1, ("楼栋", "房号", "电话", "面积", "日期", "到达", "已通知", "备注")),
        (2, ("24", "2304", "13800002304", "88.5", "2026-11-29", "2026-11-29", "True",
             "  两个空格  ")),
        (4, ("", "", "", "", "", "", "", "第 4 行")))  # row 3 holds nothing: left out


def test_a_workbook_of_the_1904_date_system_gives_the_same_dates():
    data = saved([["日期"], [date(2026, 11, 29)]], date1904=True)
    assert read_sheet(data, "mac.xlsx").records[1] == (2, ("2026-11-29",))


def test_later_sheets_are_named_when_they_hold_something():
    data = saved([["户号"], ["24-2304"]], [], [["户号"], ["29-1004"]])
    assert read_sheet(data, "x.xlsx").other_sheets == ("第3页",)


def test_shared_strings_rich_text_phonetics_and_chinese_date_formats():
    strings = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               '<si><t>户号</t></si>'
               '<si><r><rPr><b/></rPr><t>24-</t></r><r><t xml:space="preserve">2304 </t></r>'
               '<rPh sb="0" eb="1"><t>ふりがな</t></rPh></si></sst>').encode()
    styles = (b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b'<numFmts count="1"><numFmt numFmtId="164" formatCode="0.00"/></numFmts>'
              b'<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>'
              b'<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="31"/><xf numFmtId="164"/>'
              b'<xf numFmtId="14"/></cellXfs></styleSheet>')
    sheet = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
                      '<row r="2"><c r="A2" s="1"><v>46355</v></c><c r="B2" s="2"><v>46355</v>'
                      '</c><c r="C2" s="3"><v>46355</v></c><c r="D2" t="str"><f>A1</f>'
                      '<v>户号</v></c></row>')
    data = with_parts(sheet, strings=strings, styles=styles)
    assert read_sheet(data, "x.xlsx").records == (
        (1, ("户号", "24-2304 ")),  # the phonetic guide is no part of the text
        # 2026年11月29日 (built-in format 31 of a Chinese Excel), a number, a date, a formula
        (2, ("2026-11-29", "46355", "2026-11-29", "户号")))


# --- limits: the declared sizes are not believed ----------------------------------------------

def test_the_declared_dimension_is_not_believed():
    head = '<dimension ref="A1:XFD1048576"/>'
    data = hostile.workbook(sheet_xml(hostile.HEADER_ROW, head))
    assert read_sheet(data, "x.xlsx").records == ((1, ("户号", "状态")),)  # 2 cells, not 16,384


def test_the_dimension_bomb_is_refused_at_its_last_row_at_once():
    started = time.process_time()
    with pytest.raises(ListTooLarge) as refused:
        read_sheet(hostile.dimension_bomb(), "名单.xlsx")
    assert refused.value.kind == "rows" and refused.value.limit == MAX_ROWS
    assert str(refused.value) == ("名单.xlsx: row 1,048,576: a list has at most 20,000 rows (a "
                                  "compound has thousands of households): remove what stands "
                                  "below the list, or split it")
    assert time.process_time() - started < 5  # not a million rows filled in: nothing to fill


def test_a_value_in_the_last_column_is_refused():
    with pytest.raises(ListTooLarge, match="row 2, column XFD: a list has at most 100 columns"):
        read_sheet(hostile.wide_row(), "x.xlsx")


def test_a_deflate_bomb_is_refused_for_what_it_unpacks_to():
    with pytest.raises(ListTooLarge, match="a list unpacks to at most 16 MB") as refused:
        read_sheet(hostile.deflate_bomb(), "x.xlsx")
    assert refused.value.kind == "bytes"


def test_a_bomb_whose_directory_lies_is_read_no_further_than_the_lie():
    data = hostile.lying_bomb()
    assert len(data) < 200_000 and zipfile.ZipFile(io.BytesIO(data)).getinfo(
        "xl/worksheets/sheet1.xml").file_size == 1024
    with pytest.raises(CsvError, match="not an Excel workbook .* that can be read"):
        read_sheet(data, "x.xlsx")


def test_more_rows_or_cells_than_a_list_has_are_refused():
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(1, MAX_ROWS + 2))
    with pytest.raises(ListTooLarge, match=f"row {MAX_ROWS + 1:,}: a list has at most"):
        read_sheet(hostile.workbook(sheet_xml(rows)), "x.xlsx")
    cells = "<c/>" * (MAX_CELLS + 1)  # written but empty: they still cost the reading
    with pytest.raises(ListTooLarge, match="at most 250,000 cells"):
        read_sheet(hostile.workbook(sheet_xml(f"<row>{cells}</row>")), "x.xlsx")


def test_a_list_at_the_limits_is_read():
    width = 13  # 19,230 rows of 13: just under both limits
    rows = "".join(f"<row>{'<c><v>1</v></c>' * width}</row>" for _ in range(MAX_CELLS // width))
    sheet = read_sheet(hostile.workbook(sheet_xml(rows)), "x.xlsx")
    assert len(sheet.records) == MAX_CELLS // width and len(sheet.records[-1][1]) == width


@pytest.mark.parametrize("sheet, says", [
    (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><worksheet/>', "DOCTYPE"),
    (b"<worksheet><sheetData><row>", "no element found"),
    (sheet_xml('<row><c r="A1" t="s"><v>7</v></c></row>'), "the value '7' of a 's' cell"),
])
def test_a_damaged_workbook_is_one_line(sheet, says):
    with pytest.raises(CsvError, match=says) as refused:
        read_sheet(hostile.workbook(sheet), "x.xlsx")
    assert not isinstance(refused.value, ListTooLarge)


def test_a_part_packed_otherwise_than_excel_does_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(hostile.dimension_bomb())) as source, \
            zipfile.ZipFile(out, "w") as book:
        for info in source.infolist():  # a bzip2 part inflates without bound in one read
            book.writestr(info.filename, source.read(info), zipfile.ZIP_BZIP2)
    with pytest.raises(CsvError, match="packed in a way Excel does not use"):
        read_sheet(out.getvalue(), "x.xlsx")


# --- the same limits for CSV ------------------------------------------------------------------

def test_a_csv_file_has_the_same_limits():
    rows = "户号\r\n" + "\r\n" * 50_000 + "24-2304\r\n" * (MAX_ROWS - 1)  # blank lines: free
    assert len(read_sheet(rows.encode(), "x.csv").records) == MAX_ROWS
    with pytest.raises(ListTooLarge, match="line 70,001: a list has at most 20,000 rows"):
        read_sheet((rows + "24-2403\r\n").encode(), "x.csv")
    wide = "户号" + "," * MAX_COLUMNS + "x\r\n"
    with pytest.raises(ListTooLarge, match="a list has at most 100 columns"):
        read_sheet(wide.encode(), "x.csv")
    assert read_sheet(("户号" + "," * 500 + "\r\n").encode(), "x.csv").records  # empty: fine


# --- read once, kept -----------------------------------------------------------------------------

def test_what_a_list_read_as_is_kept_and_read_back_without_the_bytes():
    data = saved([["户号", "状态"], ["24-2304", "新增"]], [["备注"]])
    kept = reading_of(data, "x.xlsx")
    assert read_sheet(b"", "x.xlsx", kept) == read_sheet(data, "x.xlsx")
    gbk = reading_of("户号\r\n24-2304\r\n".encode("utf-16-le"), "x.csv")
    with pytest.raises(EncodingError, match="not UTF-8 or GBK"):
        read_sheet(b"", "x.csv", gbk)
    with pytest.raises(ListTooLarge):  # refused, not kept
        reading_of(hostile.dimension_bomb(), "x.xlsx")
