"""The `shelf` command's lines for people in Chinese and English (kiosk/app/words.py, the
catalogue's shelf and core domains): every key in both with the same placeholders; real runs in
Chinese; `--json` the same in both."""

from __future__ import annotations

import os
import string
import subprocess
import sys

import pytest
from test_cli_tasks import put_under_observation

from kiosk.app.words import choose_language
from kiosk.catalogue import catalogue

NOW = "2026-12-03T21:00:00+08:00"
ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin", "SHELF_NOW": NOW}


def shelf(config, *args, **env):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *map(str, args)], capture_output=True, text=True,
                          env={**ENV, **env}, timeout=60)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.mark.parametrize("domain", ["shelf", "core"])
def test_every_key_exists_in_both_languages_with_the_same_placeholders(domain):
    words = catalogue(domain).texts
    assert set(words["zh"]) == set(words["en"])
    for key in words["en"]:
        assert placeholders(words["zh"][key]) == placeholders(words["en"][key]), key


def test_chinese_words_are_chinese():
    """A key left in English in the Chinese half is a key nobody translated."""
    same = [k for domain in ("shelf", "core") for k, en in catalogue(domain).texts["en"].items()
            if catalogue(domain).texts["zh"][k] == en]
    assert same == ["count_pair"]  # `入架 3`: only the order of two placeholders


@pytest.mark.parametrize(("asked", "env", "expected"), [
    ("zh", {"SHELF_LANG": "en", "LANG": "en_US.UTF-8"}, "zh"),
    (None, {"SHELF_LANG": "zh", "LANG": "C.UTF-8"}, "zh"),
    (None, {"SHELF_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
    (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
    (None, {"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),
    (None, {"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "C"}, "zh"),
    (None, {}, "en"),
])
def test_the_language_is_the_operators(asked, env, expected):
    assert choose_language(asked, env) == expected


def test_an_unknown_shelf_lang_says_what_to_give(community):
    done = shelf(community, "counts", SHELF_LANG="fr")
    assert done.returncode == 2
    assert done.stderr.strip() == "shelf: error: SHELF_LANG='fr': give zh or en (or unset it)"


def test_the_config_language_does_not_switch_the_command(community):
    """The sample compound's pages start in Chinese; the operator's English shell stays so."""
    assert community.community.language == "zh"
    assert shelf(community, "tasks").stdout == "no open door tasks\n"
    assert shelf(community, "--lang", "zh", "tasks").stdout == "没有待送的上门任务\n"
    assert shelf(community, "tasks", LANG="zh_CN.UTF-8").stdout == "没有待送的上门任务\n"


def test_a_wrong_door_in_chinese_and_its_json_unchanged(community, tmp_path):
    put_under_observation(community, tmp_path, "24-2304")
    checkin = ["checkin", "--code", "SF1234567890", "--room", "24-2304", "--phone-tail", "2304"]
    done = shelf(community, "--lang", "zh", *checkin)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "入架 SF1234567890 24-2304 -> A-12 格；送货上门任务 1，物业负责\n"

    wrong = ["deliver", "1", "--room", "24-2403"]
    zh, en = shelf(community, *wrong, "--lang", "zh"), shelf(community, *wrong)
    assert zh.returncode == en.returncode == 1
    # Both doors whole, as `shelf tasks` and the task's page name them (issue 20); the log masks.
    assert zh.stderr.splitlines()[-1] == (
        "shelf: 已拒绝（wrong_door）：走错门了：这里是 24-2403，这个任务要送到 24-2304，"
        "请把包裹送到那一户")
    assert en.stderr.splitlines()[-1] == (
        "shelf: refused (wrong_door): wrong door: this is 24-2403, the task is for 24-2304; take "
        "the parcels to that door")
    assert "24-2403" not in "".join(en.stderr.splitlines()[:-1])
    zh_json = shelf(community, *wrong, "--json", "--lang", "zh")
    en_json = shelf(community, *wrong, "--json", "--lang", "en")
    assert zh_json.stdout == en_json.stdout
    assert '"wrong door: this is 24-24**' in zh_json.stdout  # the message field stays English

    done = shelf(community, "--lang", "zh", "tasks")
    assert done.stdout.splitlines() == [
        "24栋", "  #1 24-2304  物业  1 件，在 A-12  12-03 21:00 起"]


def test_counts_in_chinese_and_json_byte_identical(community, tmp_path):
    put_under_observation(community, tmp_path, "24-2304")
    assert shelf(community, "checkin", "--code", "SF1234567890", "--room", "24-2304",
                 "--phone-tail", "2304").returncode == 0
    assert shelf(community, "deliver", "1", "--room", "24-2304").returncode == 0

    zh = shelf(community, "counts", "--date", "2026-12-03", SHELF_LANG="zh")
    assert zh.returncode == 0, zh.stderr
    lines = zh.stdout.splitlines()
    assert lines[0] == ("2026-12-03: 入架 1，送货上门任务 1，送到门口 1，货架取走 0，"
                        "当天结束仍在架 0，催办 0")
    assert "  物业：送货上门任务 1，入架 1，送到门口 1，当天结束仍在架 0，催办 0" in lines
    assert any(line.endswith("（物业）：入架 0，送到门口 1，货架取走 0") for line in lines)
    json_of = [shelf(community, "counts", "--date", "2026-12-03", "--json", SHELF_LANG=lang).stdout
               for lang in ("zh", "en")]
    assert json_of[0] == json_of[1] and json_of[0].startswith("{")


def test_an_error_line_in_chinese(community):
    done = shelf(community, "--lang", "zh", "counts", "--date", "12/03")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "shelf: 错误：--date '12/03'：日期请写成 YYYY-MM-DD"
    done = shelf(community, "counts", "--date", "12/03")
    assert done.stderr.splitlines()[-1] == (
        "shelf: error: --date '12/03': give the day as YYYY-MM-DD")


def test_the_suite_runs_in_english():
    """conftest pins SHELF_LANG=en, so English-reading tests pass under a zh_CN locale too."""
    assert os.environ["SHELF_LANG"] == "en"


def run_shelf(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`shelf` as an operator types it, without a configuration."""
    return subprocess.run([sys.executable, "-m", "kiosk.app", *args], capture_output=True,
                          text=True, env={**ENV, **env}, timeout=60)


def test_help_in_the_operators_language():
    zh = run_shelf("--help", SHELF_LANG="zh")
    assert zh.returncode == 0
    assert zh.stdout.startswith("用法：shelf [-h]")
    assert "无接触配送货架。" in zh.stdout and "显示这段帮助并退出" in zh.stdout
    assert "    checkin       按快递单号和面单上的房号让包裹入架" in zh.stdout
    en = run_shelf("--help", LANG="zh_CN.UTF-8", SHELF_LANG="en")
    assert en.stdout.startswith("usage: shelf [-h]") and "show this help message" in en.stdout
    assert "    checkin       check a parcel in by its carrier's tracking number" in en.stdout

    command = run_shelf("checkin", "--help", "--lang", "zh")  # --lang anywhere on the line
    assert "面单上手机号的后 4 位（138****1234：1234）" in command.stdout
    assert "以 JSON 输出 {pdf, labels, pages}" in run_shelf("labels", "-h", "--lang=zh").stdout
    by_locale = run_shelf("checkin", "--help", LANG="zh_CN.UTF-8")
    assert "面单上的楼栋-房号，如 24-2304" in by_locale.stdout


def test_argparses_usage_errors_in_the_operators_language():
    zh = run_shelf("users", "add", SHELF_LANG="zh")
    assert zh.returncode == 2
    assert zh.stderr.splitlines()[-1] == "shelf users add: 错误：缺少这些参数：username, --role"
    assert zh.stderr.startswith("用法：shelf users add")
    wrong = run_shelf("--lang", "zh", "tasks", "--json", "extra")
    assert wrong.stderr.splitlines()[-1] == "shelf: 错误：无法识别的参数：extra"
    en = run_shelf("users", "add")
    assert en.stderr.splitlines()[-1] == (
        "shelf users add: error: the following arguments are required: username, --role")
    bad = run_shelf("--lang", "fr", "tasks", SHELF_LANG="zh")  # --lang's own error, in zh
    assert bad.stderr.splitlines()[-1] == (
        "shelf: 错误：参数 --lang：无效的选择：'fr'（可选：'zh', 'en'）")
