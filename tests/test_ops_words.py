"""`shelf doctor`, `backup`, `restore` and `selftest` in Chinese (`--lang zh`): every line for
people is Chinese, with only paths, commands and what a driver or SQLite said left as they
are; `--json` is the same in both languages (kiosk/app/words.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from test_backup import shelf, with_backup_settings

from kiosk.app.sim.label_video import Scene, label_frame
from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.backup import backup_name, hold_lock
from kiosk.domain import HouseholdId
from kiosk.labels import make_label

ZH_STATUS = {"正常", "注意", "故障"}
ZH_NAMES = ["摄像头", "引脚", "数据库", "磁盘", "时钟", "时区", "通知渠道", "接口令牌", "备份"]
# What may stay as it is inside a Chinese line: paths, commands, settings' names.
KEPT = re.compile(r"\S*/\S*|(?:sudo|shelf|systemctl|timedatectl) [^，；：（）。]*"
                  r"|\[\[channels\]\]|quick_check|systemd-timesyncd|\[Errno \d+\] \w+ \w+")
SENTENCE = re.compile(r"[A-Za-z]+(?:[ ,:;'-]+[A-Za-z]+){2,}")  # three English words in a row


def english_left(text: str) -> list[str]:
    return SENTENCE.findall(KEPT.sub("", text))


def gate(community, tmp_path: Path, *, synchronised: str, mail_port: int) -> Path:
    """The community with an image folder as its camera, its email channel on ``mail_port``,
    and a `timedatectl` that answers ``synchronised``; returns the folder for PATH."""
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    label = make_label(community.label_secret, HouseholdId.parse("24-2304"))
    cv2.imwrite(str(frames / "0001.png"), label_frame(Scene(label), np.random.default_rng(1)))
    text = community.path.read_text(encoding="utf-8")
    text = text.replace('camera = "device:0"', f'camera = "images:{frames}"', 1)
    community.path.write_text(text.replace("port = 8025", f"port = {mail_port}", 1),
                              encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "timedatectl"
    fake.write_text(f"#!/bin/sh\necho {synchronised}\n")
    fake.chmod(0o755)
    return bin_dir


def doctor(community, bin_dir: Path, *args: str):
    return shelf(community, "doctor", *args, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})


def same_json(zh: str, en: str) -> None:
    """Byte for byte, but for the figures that move between two runs (free disk, timing)."""
    def steady(text: str) -> str:
        return re.sub(r"\d+\.\d (MB|s)", r"N \1", text)

    assert steady(zh) == steady(en)
    assert json.loads(zh)["checks"]  # and it is the doctor's JSON, not nothing


def test_doctor_in_chinese_every_line_and_json_the_same(community, tmp_path):
    assert shelf(community, "backup").returncode == 0
    with MailCatcher() as mail:
        bin_dir = gate(community, tmp_path, synchronised="yes", mail_port=mail.port)
        done = doctor(community, bin_dir, "--lang", "zh")
        zh_json = doctor(community, bin_dir, "--lang", "zh", "--json").stdout
        en_json = doctor(community, bin_dir, "--json").stdout
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["正常", "注意", "正常", "正常", "正常",
                                                   lines[5].split()[0], "正常", "正常", "正常"]
    assert [line.split()[1] for line in lines] == ZH_NAMES
    assert "有画面（640x480）" in lines[0] and "没有 GPIO" in lines[1]
    assert "已同步（NTP）" in lines[4] and f"localhost:{mail.port} 可以连上" in lines[6]
    assert [english_left(line) for line in lines] == [[]] * 9, done.stdout
    same_json(zh_json, en_json)


def test_doctor_failures_in_chinese(community, tmp_path):
    old = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # three days before test_backup's NOW
    backups = community.database.parent / "backups"
    backups.mkdir()
    (backups / backup_name(old - timedelta(hours=1))).touch()
    with MailCatcher() as mail:
        port = mail.port
    bin_dir = gate(community, tmp_path, synchronised="no", mail_port=port)  # nobody answers
    done = doctor(community, bin_dir, "--lang", "zh")
    assert done.returncode == 1
    lines = {line.split()[1]: line for line in done.stdout.splitlines()}
    for name in ("时钟", "通知渠道", "备份"):
        assert lines[name].startswith("故障"), lines[name]
    assert "没有通过 NTP 同步" in lines["时钟"] and "天前的" in lines["备份"]
    assert [english_left(line) for line in lines.values()] == [[]] * 9, done.stdout
    same_json(doctor(community, bin_dir, "--lang", "zh", "--json").stdout,
              doctor(community, bin_dir, "--json").stdout)


def test_backup_in_chinese_its_path_last_and_json_the_same(community, tmp_path):
    with_backup_settings(community, f'keep = 1\ncopy_to = "{tmp_path / "stick"}"\n')
    assert shelf(community, "backup").returncode == 0
    done = shelf(community, "--lang", "zh", "backup", now="2026-11-29T04:00:00+08:00")
    assert done.returncode == 0, done.stderr
    *said, last = done.stdout.splitlines()
    assert Path(last).is_file() and last.endswith(".db")  # bare: scripts read it
    assert said and all(line.startswith("已删除旧备份 ") for line in said)
    warning = done.stderr.splitlines()[-1]
    assert warning.startswith("shelf: 注意：") and "U 盘" in warning
    assert english_left(done.stdout + warning) == []
    zh = json.loads(shelf(community, "--lang", "zh", "backup", "--json").stdout)
    en = json.loads(shelf(community, "backup", "--json").stdout)
    assert zh.keys() == en.keys() and zh["warnings"] == en["warnings"]
    assert "is missing" in en["warnings"][0]  # the JSON's words are the core's, in any language


def test_restore_in_chinese_and_its_refusals(community, tmp_path):
    backup = shelf(community, "backup").stdout.splitlines()[-1]
    with hold_lock(community.database, "run"):
        refused = shelf(community, "--lang", "zh", "restore", backup)
    assert refused.returncode == 2
    line = refused.stderr.splitlines()[-1]
    assert line.startswith("shelf: 错误：货架正在运行（shelf run，") and "--stop" in line
    assert english_left(line) == []

    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n")
    refused = shelf(community, "--lang", "zh", "restore", str(junk))
    assert refused.returncode == 2 and "不是完好的货架备份" in refused.stderr

    done = shelf(community, "--lang", "zh", "restore", backup)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"已从 {backup} 恢复 ")
    assert english_left(done.stdout) == []


def test_selftest_in_chinese_and_its_refusal(community):
    done = shelf(community, "--lang", "zh", "selftest", "--seconds", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "亮灯，蜂鸣一声" in lines[0] and lines[-1].endswith("现在全部熄灭")
    assert english_left(done.stdout) == []
    with hold_lock(community.database, "run"):
        refused = shelf(community, "--lang", "zh", "selftest", "--seconds", "0")
    assert refused.returncode == 2 and "货架程序（shelf run）正占用引脚" in refused.stderr
