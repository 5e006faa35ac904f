"""Labels people can read: `shelf label` and `shelf labels` make PDF/PNG labels whose codes
decode back (real ZBar on pages rasterised by poppler) and whose text is there in Chinese."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardware.camera import read_image
from hardware.decoder import ZbarDecoder
from kiosk import printing
from kiosk.labels import ParcelLabel, parse_payload

# 01:30 in Shanghai is still the day before in UTC: the label shows the community's date.
NOW = "2026-12-04T01:30:00+08:00"
LOCAL_DAY, UTC_DAY = "2026-12-04", "2026-12-03"


def shelf(config, *args, now: str = NOW):
    env = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin", "SHELF_NOW": now}
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *map(str, args)], capture_output=True, text=True, env=env, timeout=60)


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is missing: run scripts/setup-system --test (poppler-utils)")
    return found


def rasterise(pdf: Path, out: Path, dpi: int = 150) -> list[Path]:
    """The PDF's pages as grey PNG images, in page order."""
    out.mkdir()
    subprocess.run([poppler("pdftoppm"), "-r", str(dpi), "-gray", "-png", str(pdf),
                    str(out / "page")], check=True, timeout=60)
    return sorted(out.glob("page-*.png"))


def decoded(image: Path, secret: bytes) -> list[ParcelLabel]:
    """Every code ZBar finds in an image, each verified as one of the community's labels."""
    labels = []
    for symbol in ZbarDecoder().decode(read_image(image)):
        label = parse_payload(symbol.data, secret)
        assert isinstance(label, ParcelLabel)
        labels.append(label)
    return labels


def pdf_text(pdf: Path) -> str:
    return subprocess.run([poppler("pdftotext"), "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def embedded_fonts(pdf: Path) -> list[tuple[str, str]]:
    """(font name, embedded yes/no) for every font the PDF uses, as pdffonts lists them."""
    lines = subprocess.run([poppler("pdffonts"), str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    return [(line.split()[0], line.split()[-5]) for line in lines]


def sample_households(community, count: int) -> list[tuple[str, str]]:
    with open(community.path.parent / "households.csv", encoding="utf-8") as f:
        return [(row["building"], row["room"]) for row in csv.DictReader(f)][:count]


def test_a_sheet_decodes_back_label_by_label_on_the_right_pages(community, tmp_path):
    # 14 a page: two pages, the second with the two flats of the incident, in the CSV's order.
    flats = [*sample_households(community, 14), ("24", "2304"), ("24", "2403")]
    rows = [(b, r, f"TG{i:03d}" if i % 3 else "") for i, (b, r) in enumerate(flats)]
    sheet = tmp_path / "团购.csv"
    # Excel on a Chinese Windows saves GBK, with the columns named in Chinese.
    sheet.write_bytes("\r\n".join(["楼栋,房号,单号", *(",".join(r) for r in rows), ""])
                      .encode("gbk"))
    pdf = tmp_path / "sheet.pdf"
    done = shelf(community, "labels", "--csv", sheet, "--pdf", pdf, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"pdf": str(pdf), "labels": 16, "pages": 2}

    pages = rasterise(pdf, tmp_path / "pages")
    assert len(pages) == 2
    found = [decoded(page, community.label_secret) for page in pages]
    assert [len(codes) for codes in found] == [14, 2]
    assert sorted(str(label.household) for label in found[1]) == ["24-2304", "24-2403"]
    printed = sorted((str(label.household), label.ref) for codes in found for label in codes)
    wanted = [(f"{b}-{r}", ref) for b, r, ref in rows if ref]
    assert [p for p in printed if p[1].startswith("TG")] == sorted(wanted)
    blank_ref = sorted(f"{b}-{r}" for b, r, ref in rows if not ref)
    assert sorted(h for h, ref in printed if not ref.startswith("TG")) == blank_ref
    assert len({ref for _, ref in printed}) == 16  # a blank ref got a ref of its own

    text = pdf_text(pdf)
    assert "24栋 2304" in text and "24-2304" in text and "TG001" in text
    assert community.community.name in text
    assert LOCAL_DAY in text and UTC_DAY not in text
    assert embedded_fonts(pdf) == [("AAAAAA+WenQuanYiMicroHei-0", "yes")]  # no boxes anywhere


def test_one_label_as_png_and_pdf_carries_the_code_and_the_words(community, tmp_path):
    png, pdf = tmp_path / "label.png", tmp_path / "label.pdf"
    done = shelf(community, "label", "--household", "24-2304", "--ref", "sf9", "--png", png,
                 "--pdf", pdf)
    assert done.returncode == 0, done.stderr
    payload = done.stdout.strip()
    assert payload.startswith("DS1:24-2304:SF9:")
    [from_png] = decoded(png, community.label_secret)
    [from_pdf] = decoded(rasterise(pdf, tmp_path / "pages")[0], community.label_secret)
    assert from_png.payload == from_pdf.payload == payload
    text = pdf_text(pdf)
    for words in ("24栋 2304", "24-2304", "SF9", community.community.name, LOCAL_DAY):
        assert words in text
    assert embedded_fonts(pdf)[0][1] == "yes"


def test_a_label_for_a_flat_not_in_the_list_is_refused_and_nothing_written(community, tmp_path):
    png = tmp_path / "label.png"
    done = shelf(community, "label", "--household", "24-9901", "--png", png)
    assert done.returncode == 2
    # The operator sees the flat they typed (issue 20: not "24-99**", as if it were a typo).
    assert done.stderr.strip().splitlines()[-1] == (
        "shelf: error: 24-9901 is not in the household list: check the building and room")
    assert done.stdout == "" and not png.exists()
    chinese = shelf(community, "--lang", "zh", "label", "--household", "24栋9901室")
    assert chinese.stderr.strip().splitlines()[-1] == (
        "shelf: 错误：住户名单里没有 24-9901，请核对楼栋和房号")


def test_a_sheet_with_bad_rows_is_refused_whole_naming_each_line(community, tmp_path):
    sheet = tmp_path / "list.csv"
    sheet.write_text("household,ref\n24-2304,A1\n24-9901,A2\n24-2403,A3\n9-99,A4\n"
                     "24-2304,a1\n24-2304,no spaces\n,A7\n", encoding="utf-8")
    pdf = tmp_path / "sheet.pdf"
    done = shelf(community, "labels", "--csv", sheet, "--pdf", pdf, "--json")
    assert done.returncode == 2 and done.stdout == "" and not pdf.exists()
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("shelf: error: list.csv: 5 of 7 rows refused, nothing written:")
    assert "line 3: 24-99** is not in the household list" in error
    assert "line 5: 9-9* is not in the household list" in error
    assert "line 6: the same label as line 2 (24-23**, A1)" in error
    assert "line 7: parcel reference 'NO SPACES'" in error
    assert "line 8: no household" in error
    assert "line 2:" not in error and "line 4:" not in error
    assert "24-9901" not in error


@pytest.mark.parametrize(("text", "says"), [
    ('household,ref\n24-2304,"A1\n24-2403,A2\n', "line 2: a quote (\") opened here is never"),
    ("household,ref\n24-2304,A1,extra\n", "line 2: 3 values, but the header names 2 columns"),
    ("name,phone\nChen,138\n", "must name the columns household,ref or building,room,ref"),
    ("household,ref\n", "no rows below the header"),
])
def test_a_malformed_sheet_is_refused_with_what_to_do(community, tmp_path, text, says):
    sheet = tmp_path / "list.csv"
    sheet.write_text(text, encoding="utf-8")
    pdf = tmp_path / "sheet.pdf"
    done = shelf(community, "labels", "--csv", sheet, "--pdf", pdf)
    assert done.returncode == 2 and not pdf.exists()
    assert says in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["label", "--household", "24-2304"],
                                     ["labels", "--csv", "list.csv", "--pdf", "sheet.pdf"]])
def test_labels_need_the_database_and_never_start_a_new_one(community, tmp_path, command):
    community.database.unlink()
    (tmp_path / "list.csv").write_text("household\n24-2304\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                           *command], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert f"{community.database} does not exist; run `shelf init`" in done.stderr
    assert not community.database.exists() and not (tmp_path / "sheet.pdf").exists()


def test_without_a_chinese_font_nothing_is_written_and_it_says_what_to_install(
        community, tmp_path, monkeypatch, capsys):
    from kiosk.app.cli import main

    monkeypatch.setattr(printing, "FONT_FILES", ())
    png, pdf = tmp_path / "label.png", tmp_path / "label.pdf"
    with pytest.raises(SystemExit) as stop:
        main(["--config", str(community.path), "label", "--household", "24-2304",
              "--png", str(png), "--pdf", str(pdf)])
    assert stop.value.code == 2
    assert "install fonts-wqy-microhei" in capsys.readouterr().err
    assert not png.exists() and not pdf.exists()


def test_the_sheet_fits_a4_and_every_label_stays_on_its_page():
    grid = printing.SHEET
    width, height = printing.A4_MM
    right = grid.left + (grid.columns - 1) * grid.pitch_x + grid.width
    bottom = grid.top + (grid.rows - 1) * grid.pitch_y + grid.height
    assert right <= width - grid.left + 1e-9 and bottom <= height - grid.top + 1e-9
    assert grid.pitch_x >= grid.width and grid.pitch_y >= grid.height  # labels never overlap
    assert [printing.pages(n) for n in (1, 14, 15, 28, 29)] == [1, 1, 2, 2, 3]


def test_labels_and_door_stickers_are_printed_at_the_error_correction_chosen_for_them(
        community, tmp_path):
    """`python -m bench labels` chose the levels (README, "Labels that survive the gate")."""
    import segno
    import zxingcpp

    png, pdf = tmp_path / "label.png", tmp_path / "doors.pdf"
    done = shelf(community, "label", "--household", "24-2304", "--ref", "sf9", "--png", png)
    assert done.returncode == 0, done.stderr
    [label] = zxingcpp.read_barcodes(read_image(png))
    # segno raises the level by itself where the symbol keeps its size: M asked, Q printed.
    expected = segno.make(done.stdout.strip(), error=printing.LABEL_ERROR, micro=False)
    assert (label.text, label.ec_level) == (done.stdout.strip(), expected.error)
    done = shelf(community, "stickers", "--building", 24, "--pdf", pdf)
    assert done.returncode == 0, done.stderr
    [page, *_] = rasterise(pdf, tmp_path / "pages")
    levels = {code.ec_level for code in zxingcpp.read_barcodes(read_image(page))}
    assert printing.STICKER_ERROR == "h" and levels == {"H"}
