"""The reports `shelf` prints of imports and passes, in the operator's language (real runs):
`shelf init`'s counts, `households import`, `observation apply` and `compare`, `users
import-config`, `notices --once`. In Chinese they are Chinese, with no English sentence left;
in English they are English; their `--json` is byte for byte the same in both."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from conftest import check_in
from test_cli_tasks import with_mail

from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.passwords import hash_password

NOW = "2026-12-03T09:00:00+08:00"
ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}
# Three English words in a row: a sentence (or most of one) nobody translated. Names, files,
# rooms and options in a Chinese line are data, and never three words long here; a command to
# type (shelf users reset admin) is data too, and is taken out first.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}")
COMMAND = re.compile(r"\bshelf(?: [a-z][a-z-]*)+")


def shelf(config, *args, lang: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *map(str, args)], capture_output=True, text=True, timeout=60,
                          env={**ENV, "SHELF_NOW": now, "SHELF_LANG": lang})


def chinese(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines a Chinese operator reads; none of them English."""
    assert ENGLISH.findall(COMMAND.sub("", done.stdout)) == [], done.stdout
    return done.stdout.splitlines()


def same_json(config, *args: str) -> dict:
    """Run with --json in Chinese, then in English: the same bytes; the report."""
    zh, en = (shelf(config, *args, "--json", lang=lang) for lang in ("zh", "en"))
    assert zh.stdout == en.stdout and zh.returncode == en.returncode
    return json.loads(zh.stdout)


def test_the_english_finder_finds_a_sentence_and_leaves_data_alone():
    assert ENGLISH.findall("第 3 行：building 99 is not one of the community's") == [
        "is not one of the community"]
    assert ENGLISH.findall("第 4 行：Zhou Min 周敏 “138****2304” list.csv utf-8 "
                           "--apply-valid-rows li.wei") == []


def test_init_says_its_counts_in_the_operators_language(tmp_path):
    said = {}
    for lang in ("zh", "en"):
        done = subprocess.run([sys.executable, "-m", "kiosk.app", "init", str(tmp_path / lang)],
                              capture_output=True, text=True, timeout=120,
                              env={**ENV, "SHELF_LANG": lang, "SHELF_NOW": NOW},
                              preexec_fn=lambda: os.umask(0o077))
        assert done.returncode == 0, done.stderr
        said[lang] = done
    database = tmp_path / "zh" / "shelf.db"
    counts = [line for line in chinese(said["zh"]) if line.startswith("数据库")]
    assert re.fullmatch(rf"数据库 {database}；示例住户：新增 (\d+) 户，修改 0 户，不变 0 户，"
                        r"有问题 0 行，提醒 0 条", counts[0]), counts
    assert re.search(r"sample households: added \d+, changed 0, unchanged 0, refused 0, "
                     r"warnings 0\n", said["en"].stdout)
    # The made-up password is shown once: say so, and how to set a new one (issue 20).
    for lang, once in (("en", "this password is shown only now and cannot be looked up later: "
                              "write it down; if it is forgotten, set a new one with: shelf "
                              "users reset admin"),
                       ("zh", "这个密码只显示这一次，之后无法再查看：请记下来；"
                              "忘记了可用 shelf users reset admin 设置新密码")):
        lines = said[lang].stdout.splitlines()
        login = next(i for i, line in enumerate(lines) if "admin / " in line)
        assert lines[login + 1] == once


LIST = ("building,room,name,phone,email,notes\n"
        "24,2304,Chen,13900001111,,\n"  # changed: phone and e-mail
        "99,1,Nobody,,,\n"  # no building 99
        "24,2403,Zhou Min 周敏,13800002304,,\n"  # 2304's phone on 2403
        "7,101,New,,,\n")  # added


def test_the_household_import_report_in_chinese_and_english(community, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(LIST, encoding="utf-8")
    zh = shelf(community, "households", "import", path, lang="zh")
    assert zh.returncode == 1, zh.stderr  # a row refused
    assert chinese(zh) == [
        "新增 1 户，修改 2 户，不变 0 户，有问题 1 行，提醒 2 条",
        "新增：7-101",
        "修改：",
        "  第 2 行：24-2304：姓名 “Chen Jie 陈杰” → “Chen”；电话 “138****2304” → “139****1111”；"
        "邮箱 “r***@sample-garden.example” → （空）",
        "  第 4 行：24-2403：电话 “138****2403” → “138****2304”；"
        "邮箱 “r***@sample-garden.example” → （空）",
        "有问题的行：",
        "  第 3 行：99栋不是本小区的楼栋",
        "提醒：",
        "  无法识别的列“notes”：这一列不会导入。",
        "  第 4 行：24-2403 的电话 138****2304 与 24-2304 的相同：这两个房号容易混淆，请核对房号。",
        "仅预览，没有修改任何内容：核对无误后加 --apply 再运行一次即生效",
    ]
    en = shelf(community, "households", "import", path, lang="en")
    assert en.returncode == 1
    assert en.stdout.splitlines()[:2] == [
        "added 1, changed 2, unchanged 0, refused 1, warnings 2", "added: 7-101"]
    assert "  Line 3: building 99 is not one of the community's" in en.stdout.splitlines()
    assert "13800002304" not in zh.stdout + en.stdout  # contacts masked in both
    report = same_json(community, "households", "import", path)
    assert [(r["line"], r["kind"]) for r in report["refused"]] == [(3, "unknown_building")]
    assert report["refused"][0]["reason"] == "building 99 is not in [community] buildings"

    good = tmp_path / "good.csv"
    good.write_text("building,room,name\n7,101,New\n", encoding="utf-8")
    assert chinese(shelf(community, "households", "import", good, "--apply", lang="zh"))[-1] == (
        "已生效：新增 1 户，修改 0 户")
    good.write_text("building,room,name\n7,102,Newer\n", encoding="utf-8")
    assert shelf(community, "households", "import", good, "--apply", lang="en").stdout.endswith(
        "\napplied: 1 added, 0 changed\n")


DAY = "2026-12-03"
DAY_LIST = ["楼栋,房号,状态,日期",
            "24,2304,新增,2026-12-03",  # added
            "24,2340,新增,",  # not in the household list: 24-2304 is near
            "29,1004,解除,",  # released
            "3,301,待定,",  # no such status
            "3,310,新增,2026-12-04",  # another day's
            "2,2603,新增,",
            "2,2603,解除,"]  # both: neither applies


def day_list(tmp_path: Path) -> Path:
    path = tmp_path / "居家观察-1203.csv"
    path.write_bytes(("\r\n".join(DAY_LIST) + "\r\n").encode("gbk"))
    return path


def test_the_observation_list_report_in_chinese_and_english(community, tmp_path):
    path = day_list(tmp_path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    look = ["observation", "apply", path, "--date", DAY, "--source", "committee", "--dry-run"]
    zh = shelf(community, *look, lang="zh")
    assert zh.returncode == 1, zh.stderr
    assert chinese(zh) == [
        f"居家观察-1203.csv（变动名单，gbk，7 行，sha256 {sha}），2026-12-03 的名单，"
        "来源：committee",
        "新增 1 户：24-2304（第 2 行）",
        "解除 1 户：29-1004（第 4 行）",
        "不变 0 户",
        "不在住户名单中 1 户：24-2340（第 3 行）",
        "问题 4 处：",
        "  第 3 行：24-2340 不在住户名单中。易混房号：24-2304",
        "  第 5 行：状态“待定”无法识别，请写“新增”或“解除”。",
        "  第 6 行：日期 2026-12-04 不是这份名单的日期（2026-12-03）。",
        "  第 8 行：2-2603 与第 7 行一个新增、一个解除，两行都不生效，请改正其中一行。",
        "仅预览，没有修改任何内容；名单有问题：请改正，或加 --apply-valid-rows 让其余各行生效",
    ]
    en = shelf(community, *look, lang="en")
    assert en.stdout.splitlines()[-1] == (
        "dry run, nothing changed; the list has problems: correct them, or apply the other rows "
        "with --apply-valid-rows")
    assert "  Line 3: 24-2340 is not in the household list. Easily confused with: 24-2304" in (
        en.stdout.splitlines())
    report = same_json(community, *look)
    assert [p["kind"] for p in report["problems"]] == [
        "unknown_room", "bad_status", "wrong_date", "conflict"]

    apply = ["observation", "apply", path, "--date", DAY, "--source", "committee",
             "--apply-valid-rows"]
    done = shelf(community, *apply, lang="zh")
    assert done.returncode == 0, done.stderr
    assert chinese(done)[-1] == "已生效（登记第 1 号）：新增 1 户，解除 1 户"
    actor = f"{getpass.getuser()}@shell"
    assert chinese(shelf(community, *apply, lang="zh"))[-1] == (
        f"没有变动：这份名单已由 {actor} 生效过（登记第 1 号）")
    assert shelf(community, *apply, lang="en").stdout.splitlines()[-1] == (
        f"nothing to change: this list was applied by {actor} as register entry 1")


def test_the_comparison_of_two_lists_in_chinese_and_english(community, tmp_path):
    a = day_list(tmp_path)
    b = tmp_path / "b.csv"
    b.write_text("户号\n24-2304\n29-1004\n", encoding="utf-8")  # a full list
    zh = shelf(community, "observation", "compare", a, b, lang="zh")
    assert zh.returncode == 1, zh.stderr
    assert chinese(zh) == [
        "A：居家观察-1203.csv（变动名单，7 行）",
        "B：b.csv（全量名单，2 行）",
        "两份名单类型不同（变动名单和全量名单）：逐行照原样比较，全量名单的行都算新增",
        "只在 A 中：24-2340 新增（第 3 行）",
        "只在 A 中：3-310 新增（第 6 行）",
        "不一致：29-1004：A 为解除（第 4 行），B 为新增（第 3 行）",
        "A 的问题：第 5 行：状态“待定”无法识别，请写“新增”或“解除”。",
        "A 的问题：第 8 行：2-2603 与第 7 行一个新增、一个解除，两行都不生效，请改正其中一行。",
        "1 户一致：两份名单不一致",
    ]
    en = shelf(community, "observation", "compare", a, b, lang="en")
    assert en.returncode == 1
    assert en.stdout.splitlines()[5:] == [
        "differs: 29-1004: A released (line 4), B added (line 3)",
        'problem in A: Line 5: status "待定" is not known: write 新增 (added) or 解除 (released).',
        "problem in A: Line 8: 2-2603 is added on one line and released on the other (line 7): "
        "neither applies; correct one of them.",
        "agreed on 1 households: the lists disagree"]
    report = same_json(community, "observation", "compare", a, b)
    assert report["same"] is False


def test_the_staff_import_report_in_chinese_and_english(community):
    legacy = hash_password("old admin pass", iterations=1000)
    accounts = [("admin", "admin", legacy), ("wang", "committee", legacy),
                ("bad name", "committee", legacy), ("li", "property", "not a hash")]
    with community.path.open("a", encoding="utf-8") as config:
        for username, role, password_hash in accounts:
            config.write(f'\n[[web.users]]\nusername = "{username}"\nrole = "{role}"\n'
                         f'password_hash = "{password_hash}"\n')
    zh = shelf(community, "users", "import-config", lang="zh")
    assert zh.returncode == 1, zh.stderr  # two refused
    assert chinese(zh) == [
        "[[web.users]]：导入 1 个（wang）；数据库中已有 1 个；未导入“bad name”：用户名不可用：请用 "
        "1–32 位字母、数字、“.”“_”或“-”，以字母或数字开头，例如 li.wei；未导入“li”：password_hash "
        "不是 shelf hash-password 生成的哈希"]
    en = shelf(community, "users", "import-config", lang="en")  # wang is in the database now
    assert en.stdout == (
        "[[web.users]]: added 0; already in the database 2; refused 'bad name': the username is "
        "not one an account may have: use 1-32 letters, digits, '.', '_' or '-', starting with "
        "a letter or digit, e.g. li.wei; refused 'li': password_hash is no hash from shelf "
        "hash-password\n")
    report = same_json(community, "users", "import-config")
    assert report["kept"] == ["admin", "wang"]
    assert [(r["username"], r["kind"]) for r in report["refused"]] == [
        ("bad name", "username"), ("li", "password_hash")]


def test_the_notice_workers_pass_in_chinese_and_english(community, conn, clock):
    """Each run sends the one notice a check-in queued: the same pass, said twice, and its
    --json twice, the same."""
    later = (clock.now() + timedelta(minutes=1)).isoformat()
    with MailCatcher() as mail:
        with_mail(community, mail.port)
        said = {}
        for lang in ("zh", "en"):
            check_in(conn, community, clock, "24-2304")
            said[lang] = shelf(community, "notices", "--once", lang=lang, now=later)
            assert said[lang].returncode == 0, said[lang].stderr
        assert chinese(said["zh"]) == ["通知：已发送 1 条，待重试 0 条，已放弃 0 条"]
        assert said["en"].stdout == "notices: sent 1, to retry 0, given up 0\n"
        json_of = {}
        for lang in ("zh", "en"):
            check_in(conn, community, clock, "24-2304")
            json_of[lang] = shelf(community, "notices", "--once", "--json", lang=lang, now=later)
        mail.wait_for(4)
    assert json_of["zh"].stdout == json_of["en"].stdout == (
        '{"sent": 1, "retried": 0, "failed": 0}\n')
