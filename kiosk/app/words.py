"""The `shelf` command's words for people, in Chinese and English. Every key exists in both,
with the same ``{name}`` placeholders (a test checks).

The language is the operator's, not the residents': ``--lang``, else ``SHELF_LANG``, else the
terminal's locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG`` starting with ``zh``), else English.
``[community] language`` is left out on purpose: it is what residents' screens, labels and
notices start in, and scripts reading a command's lines must not change language because the
compound's config did. Scripts should read ``--json`` anyway: those outputs are contracts and
are the same in every language.

What stays English: ``--help`` and argparse's own usage errors, the log lines (for journals
and grep), and the text of the core's errors (``kiosk.errors``). Those carry a stable
``code``; a refusal whose code is worded here (``why_<code>``) is said in Chinese from the
code, any other keeps the core's English text after a Chinese lead (`shelf backup`/`restore`
word theirs from the ``words`` key the core attaches). `shelf doctor`'s findings are keys too:
their English is the ``--json`` ``detail``. What a driver, the OS or SQLite says inside a
line (an errno, "file is not a database") is kept as it said it. Reports that word
themselves in the core (``.summary()`` of household imports, observation lists, staff
imports; the notice worker's pass) stay as the core says them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

LANGUAGES = ("zh", "en")

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "error": "shelf: 错误：{text}",
        "refused": "shelf: 已拒绝（{code}）：{why}{hint}",
        "refused_hint": "；容易混淆的房号：{rooms}",
        "why_wrong_door": "走错门了：这里是 {given}，这个任务要送到 {expected}，请把包裹送到那一户",
        "why_unknown_task": "没有这个送货上门任务，请核对任务编号",
        "why_task_closed": "这个送货上门任务已经送达过了",
        "why_task_cancelled": "这个送货上门任务已取消，包裹留在货架上",
        "why_forged": "标签或门贴无效（伪造或来自其他小区）",
        "why_garbage": "这不是本货架的标签、取件二维码或门贴",
        "why_unknown_household": "住户名单里没有这一户",
        "why_confusable_room": "这个房号容易和别的房号混淆，请用 --phone-tail "
                               "给出面单上手机号的后 4 位",
        "why_phone_mismatch": "手机尾号和房号对不上，请核对面单",
        "why_bad_phone_tail": "--phone-tail 要填面单上手机号的后 4 位数字",
        "why_bad_carrier_code": "这不像快递单号（6 到 40 位字母、数字或 -）",
        "why_code_taken": "这个快递单号已经预报给了另一户",
        "why_announcement_mismatch": "面单上的手机号不是预报住户的，"
                                     "请用 --room 给出面单上的楼栋-房号",
        "why_unreadable_image": "读不了这张图片",
        "init_wrote": "已写入 {config} 和 {households}",
        "init_database": "数据库 {database}；示例住户：{counts}",
        "init_login": "工作人员登录：admin / {password}",
        "init_next": "下一步：export SHELF_CONFIG={config}",
        "wrote": "已写入 {path}",
        "labels_wrote": "已写入 {pdf}：{labels} 张标签，共 {pages} 页 A4",
        "scan_done": "{image}：{action} {household} -> {slot} 格{door}",
        "scan_door": "（送货上门任务 {task}，{team}负责）",
        "scan_needs_room": "{image}：待输入房号 {code}（没有人预报过这件快递：shelf checkin --code "
                           "单号 --room 楼栋-房号）",
        "scan_needs_check": "{image}：待确认 {code}（已预报给 {household}：shelf checkin --code "
                            "单号 --phone-tail 面单手机号后4位，或 --room 楼栋-房号）",
        "scan_other": "{image}：{action}（{why}）",
        "action_checkin": "入架",
        "action_pickup": "取件",
        "action_rejected": "已拒绝",
        "action_none": "没有识别到条码",
        "no_code": "图片里没有找到条码",
        "expect_new": "已预报：{code}，{household}",
        "expect_again": "之前已预报：{code}，{household}",
        "expect_met": "；包裹 {parcel} 已经入架",
        "checkin_done": "入架 {code} {household} -> {slot} 格{again}{unsure}{door}",
        "checkin_again": "（重复扫描）",
        "checkin_unsure": "；房号未确认，工作人员会核对",
        "checkin_door": "；送货上门任务 {task}，{team}负责",
        "checkin_needs_room": "待输入房号 {code}：没有人预报过这件快递；请用 --room 给出楼栋-房号，"
                              "如 24-2304",
        "checkin_needs_check": "待确认 {code}：已预报给 {household}；请用 --phone-tail 给出面单上"
                               "手机号的后 4 位，或用 --room 给出面单上的楼栋-房号",
        "stills_pruned": "已删除 {deleted} 张超过 {days} 天的抓拍照片",
        "notices_flags": "--id、--all-failed 和 --json 只能和 shelf notices retry 一起用",
        "notices_which": "请说明要重发哪些通知：--id N ... 或 --all-failed",
        "notices_requeued": "已重新排队 {count} 条通知：{ids}；通知程序下一轮就会发送",
        "notices_none": "无",
        "notices_skipped": "通知 {notice} 未重发：{why}",
        "port_taken": "{host} 的端口 {port} 已被占用（另一个 shelf web？）：先停掉它，"
                      "或用 --port 换一个端口",
        "bad_day": "{text!r} 不是日期，请写成 2026-11-29 这样",
        "bad_date": "--date {text!r}：日期请写成 YYYY-MM-DD",
        "not_a_team": "--team {team!r} 不是团队；团队有：{teams}",
        "tasks_handed_over": "已移交：任务 {task} 从{before}转给{after}",
        "tasks_building": "{building}栋",
        "tasks_line": "  #{task} {household}  {team}  {count} 件，在 {slots}  {since} 起{fresh}",
        "tasks_fresh": "  生鲜",
        "tasks_none": "没有待送的上门任务",
        "delivered": "送货上门任务 {task} 已送达：{count} 件送到 {household}",
        "stickers_wrote": "已写入 {pdf}：{building}栋门贴 {stickers} 张，共 {pages} 页 A4",
        "counts_team": "  {team}：",
        "counts_person": "  {person}：",
        "counts_person_team": "  {person}（{team}）：",
        "count_checked_in": "入架",
        "count_door_tasks": "送货上门任务",
        "count_delivered": "送到门口",
        "count_handed_out": "货架取走",
        "count_waiting": "当天结束仍在架",
        "count_escalated": "催办",
        "count_pair": "{what} {n}",
        "count_sep": "，",
        "users_line": "{username}  {role}  {team}  {state}  {name}",
        "users_enabled": "启用",
        "users_disabled": "停用",
        "users_none": "还没有工作人员账号：用 shelf users add 用户名 --role admin 添加",
        "users_added": "已添加 {who}",
        "users_disabled_now": "已停用 {who}；已在所有设备上退出登录",
        "users_enabled_now": "已启用 {who}",
        "users_reset": "已为 {who} 设置新密码；已在所有设备上退出登录",
        "users_changed": "已修改 {who}：{name}",
        "users_changed_role": "已修改 {who}：{name}；角色已变，已在所有设备上退出登录",
        "users_who": "{username}（{role}{team}）",
        "users_who_team": "，团队 {team}",
        "users_exists": "工作人员账号 {username!r} 已经存在",
        "users_unknown": "没有工作人员账号 {username!r}；请看 shelf users list",
        "users_password": "新密码：",
        "users_password_again": "再输入一次：",
        "users_password_twice": "两次输入的密码不一样；什么都没有改",
        "role_admin": "管理员",
        "role_committee": "居委会",
        "role_property": "物业",
        "role_gate": "门岗",
        "warning": "shelf: 注意：{text}",
        "backup_keep": "--keep 至少为 1",
        "backup_removed": "已删除旧备份 {path}",
        "backup_copied": "已复制到 {path}",
        "restore_stopping": "正在停止服务：{command}",
        "restore_stop_failed": "停止服务失败（{command} 返回 {code}），未做任何更改；"
                               "请手动停止后再恢复",
        "restore_still_running": "服务停止后仍在运行（{names}），未做任何更改；请手动停止后再恢复",
        "restore_aside": "原数据库已保留为 {path}（未删除）",
        "restore_removed": "已删除过时的 {path}",
        "restore_done": "已从 {backup} 恢复 {database}",
        "restore_start": "请重新启动服务：sudo systemctl start {services}",
        "selftest_slot": "{number}/{count}  {slot} 亮灯，蜂鸣一声（{where}）",
        "selftest_done": "{count} 个格口依次亮过；现在全部熄灭",
        "selftest_kiosk_runs": "货架程序（shelf run）正占用引脚；请先停止："
                               "sudo systemctl stop shelf-kiosk",
        "backup_copy_damaged": "{path} 这份副本没有通过完整性检查（{problem}）；数据库本身可能"
                               "已损坏：请运行 shelf doctor",
        "backup_copy_to_missing": "{copy_to} 不存在（U 盘或共享文件夹挂载了吗？）；"
                                  "备份只在 {folder} 里",
        "backup_copy_to_failed": "备份没能复制到 {copy_to}（{why}）；备份只在 {folder} 里",
        "restore_not_a_backup": "{path} 不是完好的货架备份（{problem}），未做任何更改："
                                "请换一个备份",
        "restore_running": "货架正在运行（{names}，数据库 {database}）：请先停止"
                           "（sudo systemctl stop shelf-kiosk shelf-notices shelf-web），"
                           "或加上 --stop",
        "doctor_ok": "正常",
        "doctor_warn": "注意",
        "doctor_fail": "故障",
        "doctor_camera": "摄像头",
        "doctor_pins": "引脚",
        "doctor_database": "数据库",
        "doctor_disk": "磁盘",
        "doctor_clock": "时钟",
        "doctor_timezone": "时区",
        "doctor_channels": "通知渠道",
        "doctor_channel": "通知渠道 {id}",
        "doctor_backups": "备份",
        "doctor_tokens": "接口令牌",
        "doctor_camera_held": "正由运行中的货架程序（shelf run）使用，这里不去打开",
        "doctor_camera_shut": "{spec} 打不开：{why}",
        "doctor_camera_frames": "{spec} 有画面（{width}x{height}）",
        "doctor_camera_no_frame": "{spec} 能打开，但 {seconds} 秒内没有画面",
        "doctor_camera_fails": "{spec} 读取画面时出错：{why}",
        "doctor_pins_held": "正由运行中的货架程序（shelf run）使用，这里不去占用",
        "doctor_pins_no_gpio": "已跳过：这台机器没有 GPIO",
        "doctor_pins_busy": "这些引脚占用不了：{pins}",
        "doctor_pins_free": "{count} 个引脚都空闲：{pins}",
        "doctor_database_unavailable": "数据库打不开：{why}",
        "doctor_database_damaged": "数据库已损坏（{problem}）：请恢复一个备份"
                                   "（shelf restore FILE）",
        "doctor_database_sound": "完好（quick_check 用时 {took} 秒），{size}",
        "doctor_disk_full": "{folder} 所在磁盘只剩 {free}：请腾出空间",
        "doctor_disk_low": "{folder} 所在磁盘只剩 {free}，快满了",
        "doctor_disk_free": "{folder} 所在磁盘还有 {free}",
        "doctor_clock_timesyncd": "已同步（systemd-timesyncd）",
        "doctor_clock_unknown": "不知道是否已同步（{why}）",
        "doctor_clock_ntp": "已同步（NTP）",
        "doctor_clock_unsynced": "没有通过 NTP 同步：树莓派没有电池时钟，请接上网络，"
                                 "或查看：timedatectl timesync-status",
        "doctor_timezone_unknown": "不知道系统的时区；货架用的是 {zone}",
        "doctor_timezone_same": "{zone}（与系统一致）",
        "doctor_timezone_same_time": "{zone}（系统设为 {system}，时间相同）",
        "doctor_timezone_differs": "货架用的是 {zone}，系统却是 {system}：日志和屏幕上的时间"
                                   "会对不上；请运行 sudo timedatectl set-timezone {zone}",
        "doctor_channels_none": "没有配置 [[channels]]：包裹到了也不会通知住户",
        "doctor_channel_no_host": "设置里没有可以连接的主机",
        "doctor_channel_down": "{host}:{port} 连不上（{why}）",
        "doctor_channel_up": "{host}:{port} 可以连上",
        "doctor_backups_none": "{folder} 里还没有备份：请运行 shelf backup"
                               "（shelf-backup 定时器每天备份一次）",
        "doctor_backups_old": "{folder} 里最新的备份已是 {days} 天前的：shelf-backup.timer "
                              "启用了吗？请查看 systemctl list-timers shelf-backup",
        "doctor_backups_recent": "{folder} 里最新的备份是 {hours} 小时前的",
        "doctor_tokens_none": "没有 [[web.tokens]]：只有登录的工作人员能用 /api/*",
        "doctor_tokens_scoped": "{count} 个令牌，都有名字和范围：{names}",
        "doctor_tokens_unscoped": "[web] api_tokens 里有 {count} 个令牌（{names}）没有名字和范围，"
                                  "可以给任何一户预报：请把每个改写成一个 [[web.tokens]] 表，"
                                  "写明 name 和 buildings（见 README「预报包裹」）",
    },
    "en": {
        "error": "shelf: error: {text}",
        "refused": "shelf: refused ({code}): {why}{hint}",
        "refused_hint": " (rooms easily confused with it: {rooms})",
        # In English the core's own message is said (it is English already, with details); these
        # match it for the few refusals Chinese words from their code.
        "why_wrong_door": "wrong door: this is {given}, the task is for {expected}; take the "
                          "parcels to that door",
        "why_unknown_task": "there is no such door task; check its number",
        "why_task_closed": "the door task was delivered already",
        "why_task_cancelled": "the door task was called off; the parcels stay on the shelf",
        "why_forged": "the label or door sticker is not valid (forged, or another compound's)",
        "why_garbage": "not one of the shelf's labels, pickup codes or door stickers",
        "why_unknown_household": "the household is not in the list",
        "why_confusable_room": "the room is easily confused with another: give the waybill "
                               "phone's last 4 digits with --phone-tail",
        "why_phone_mismatch": "the phone's last digits do not match the room; check the waybill",
        "why_bad_phone_tail": "--phone-tail takes the last 4 digits of the waybill's phone",
        "why_bad_carrier_code": "not a tracking number (6-40 letters, digits or -)",
        "why_code_taken": "the tracking number is announced for another household",
        "why_announcement_mismatch": "the waybill's phone is not the announced household's; "
                                     "give --room from the waybill",
        "why_unreadable_image": "the image cannot be read",
        "init_wrote": "wrote {config} and {households}",
        "init_database": "database {database}; sample households: {counts}",
        "init_login": "staff login: admin / {password}",
        "init_next": "next: export SHELF_CONFIG={config}",
        "wrote": "wrote {path}",
        "labels_wrote": "wrote {pdf}: {labels} labels on {pages} A4 page(s)",
        "scan_done": "{image}: {action} {household} -> {slot}{door}",
        "scan_door": " (door task {task} for {team})",
        "scan_needs_room": "{image}: needs_room {code} (nobody announced it: shelf checkin --code "
                           "CODE --room BUILDING-ROOM)",
        "scan_needs_check": "{image}: needs_room {code} (announced for {household}: shelf "
                            "checkin --code CODE --phone-tail NNNN from the waybill, or --room "
                            "BUILDING-ROOM)",
        "scan_other": "{image}: {action} ({why})",
        "action_checkin": "checkin",
        "action_pickup": "pickup",
        "action_rejected": "rejected",
        "action_none": "none",
        "no_code": "no code found",
        "expect_new": "announced: {code} for {household}",
        "expect_again": "already announced: {code} for {household}",
        "expect_met": "; parcel {parcel} is already checked in",
        "checkin_done": "checkin {code} {household} -> {slot}{again}{unsure}{door}",
        "checkin_again": " (again)",
        "checkin_unsure": "; room not confirmed: the staff will check it",
        "checkin_door": "; door task {task} for {team}",
        "checkin_needs_room": "needs_room {code}: nobody announced it; give --room BUILDING-ROOM",
        "checkin_needs_check": "needs_room {code}: announced for {household}; give --phone-tail "
                               "NNNN (the waybill's phone) or --room BUILDING-ROOM from the "
                               "waybill",
        "stills_pruned": "deleted {deleted} still(s) older than {days} days",
        "notices_flags": "--id, --all-failed and --json go with 'shelf notices retry'",
        "notices_which": "say which notices to retry: --id N ... or --all-failed",
        "notices_requeued": "requeued {count} notice(s): {ids}; the notice worker sends them on "
                            "its next pass",
        "notices_none": "none",
        "notices_skipped": "notice {notice} left alone: {why}",
        "port_taken": "port {port} on {host} is taken (another shelf web?): stop that, or pick "
                      "another port with --port",
        "bad_day": "{text!r} is not a day like 2026-11-29",
        "bad_date": "--date {text!r}: give the day as YYYY-MM-DD",
        "not_a_team": "--team {team!r} is not a team; teams are {teams}",
        "tasks_handed_over": "handed over: task {task} from {before} to {after}",
        "tasks_building": "building {building}",
        "tasks_line": "  #{task} {household}  {team}  {count} parcel(s) in {slots}  "
                      "since {since}{fresh}",
        "tasks_fresh": "  FRESH",
        "tasks_none": "no open door tasks",
        "delivered": "delivered door task {task}: {count} parcel(s) to {household}",
        "stickers_wrote": "wrote {pdf}: {stickers} door stickers for building {building} on "
                          "{pages} A4 page(s)",
        "counts_team": "  team {team}: ",
        "counts_person": "  {person}: ",
        "counts_person_team": "  {person} ({team}): ",
        "count_checked_in": "checked in",
        "count_door_tasks": "door tasks",
        "count_delivered": "delivered",
        "count_handed_out": "handed out",
        "count_waiting": "waiting",
        "count_escalated": "escalated",
        "count_pair": "{what} {n}",
        "count_sep": ", ",
        "users_line": "{username:<16} {role:<9} {team:<10} {state:<8} {name}",
        "users_enabled": "enabled",
        "users_disabled": "disabled",
        "users_none": "no staff accounts: add one with shelf users add USERNAME --role admin",
        "users_added": "added {who}",
        "users_disabled_now": "disabled {who}; signed out everywhere",
        "users_enabled_now": "enabled {who}",
        "users_reset": "new password for {who}; signed out everywhere",
        "users_changed": "changed {who}: {name}",
        "users_changed_role": "changed {who}: {name}; a new role, signed out everywhere",
        "users_who": "{username} ({role}{team})",
        "users_who_team": ", team {team}",
        "users_exists": "staff account {username!r} exists already",
        "users_unknown": "no staff account {username!r}; see `shelf users list`",
        "users_password": "new password: ",
        "users_password_again": "the same again: ",
        "users_password_twice": "the two passwords differ; nothing changed",
        "role_admin": "admin",
        "role_committee": "committee",
        "role_property": "property",
        "role_gate": "gate",
        "warning": "shelf: warning: {text}",
        "backup_keep": "--keep must be 1 or more",
        "backup_removed": "removed the old backup {path}",
        "backup_copied": "copied to {path}",
        "restore_stopping": "stopping the services: {command}",
        "restore_stop_failed": "stopping the services failed ({command} exited with {code}); "
                               "nothing was changed: stop them by hand, then restore",
        "restore_still_running": "still running after the stop ({names}); nothing was changed: "
                                 "stop them by hand, then restore",
        "restore_aside": "the database it replaces is kept as {path} (not deleted)",
        "restore_removed": "removed the stale {path}",
        "restore_done": "restored {database} from {backup}",
        "restore_start": "start the services again: sudo systemctl start {services}",
        "selftest_slot": "{number}/{count}  {slot} lit, one beep ({where})",
        "selftest_done": "{count} slots lit in turn; all dark now",
        "selftest_kiosk_runs": "the kiosk (shelf run) holds the pins; stop it first: "
                               "sudo systemctl stop shelf-kiosk",
        # The core's own texts (kiosk/backup.py), which English prints as they are.
        "backup_copy_damaged": "the copy in {path} failed its integrity check ({problem}); the "
                               "database itself may be damaged: run shelf doctor",
        "backup_copy_to_missing": "{copy_to} is missing (is the USB stick or the share "
                                  "mounted?); the backup is only in {folder}",
        "backup_copy_to_failed": "could not copy the backup to {copy_to} ({why}); it is only in "
                                 "{folder}",
        "restore_not_a_backup": "{path} is not a sound shelf backup ({problem}); nothing was "
                                "changed: choose another backup",
        "restore_running": "the shelf is running ({names}) on {database}; stop it first (sudo "
                           "systemctl stop shelf-kiosk shelf-notices shelf-web) or add --stop",
        "doctor_ok": "ok",
        "doctor_warn": "warn",
        "doctor_fail": "FAIL",
        "doctor_camera": "camera",
        "doctor_pins": "pins",
        "doctor_database": "database",
        "doctor_disk": "disk",
        "doctor_clock": "clock",
        "doctor_timezone": "timezone",
        "doctor_channels": "channels",
        "doctor_channel": "channel {id}",
        "doctor_backups": "backups",
        "doctor_tokens": "tokens",
        # The English findings are also the --json `detail`s: the same in every language.
        "doctor_camera_held": "held by the running kiosk (shelf run): not opened here",
        "doctor_camera_shut": "{spec} does not open: {why}",
        "doctor_camera_frames": "{spec} delivers frames ({width}x{height})",
        "doctor_camera_no_frame": "{spec} opens but delivered no frame in {seconds} s",
        "doctor_camera_fails": "{spec} fails while reading: {why}",
        "doctor_pins_held": "held by the running kiosk (shelf run): not claimed here",
        "doctor_pins_no_gpio": "skipped: no GPIO on this machine",
        "doctor_pins_busy": "cannot claim {pins}",
        "doctor_pins_free": "{count} pins free: {pins}",
        "doctor_database_unavailable": "{why}",
        "doctor_database_damaged": "{problem}: restore a backup (shelf restore FILE)",
        "doctor_database_sound": "sound (quick_check {took} s), {size}",
        "doctor_disk_full": "only {free} free under {folder}: free some space",
        "doctor_disk_low": "{free} free under {folder}",
        "doctor_disk_free": "{free} free under {folder}",
        "doctor_clock_timesyncd": "synchronised (systemd-timesyncd)",
        "doctor_clock_unknown": "cannot tell whether it is synchronised ({why})",
        "doctor_clock_ntp": "synchronised (NTP)",
        "doctor_clock_unsynced": "not synchronised by NTP: a Pi has no battery clock; connect "
                                 "it to a network, or check: timedatectl timesync-status",
        "doctor_timezone_unknown": "the system's time zone is unknown; the shelf uses {zone}",
        "doctor_timezone_same": "{zone}",
        "doctor_timezone_same_time": "{zone} (the system says {system}, same time)",
        "doctor_timezone_differs": "the shelf uses {zone}, the system {system}: logs and "
                                   "screens differ; sudo timedatectl set-timezone {zone}",
        "doctor_channels_none": "no [[channels]]: no household is told of a parcel",
        "doctor_channel_no_host": "no host to connect to in its settings",
        "doctor_channel_down": "{host}:{port} does not answer ({why})",
        "doctor_channel_up": "{host}:{port} answers",
        "doctor_backups_none": "none in {folder} yet: run shelf backup (the shelf-backup timer "
                               "makes one a day)",
        "doctor_backups_old": "the newest in {folder} is {days} days old: is "
                              "shelf-backup.timer enabled? systemctl list-timers shelf-backup",
        "doctor_backups_recent": "the newest in {folder} is {hours} h old",
        "doctor_tokens_none": "no [[web.tokens]]: only signed-in staff use /api/*",
        "doctor_tokens_scoped": "{count} token(s), each named and scoped: {names}",
        "doctor_tokens_unscoped": "{count} token(s) in [web] api_tokens ({names}) have no name "
                                  "or scope and may announce for any household: move each to "
                                  "a [[web.tokens]] table with its name and buildings (README: "
                                  "Announcing parcels)",
    },
}

_language = "en"


def choose_language(asked: str | None, env: Mapping[str, str] = os.environ) -> str:
    """``--lang``, else ``SHELF_LANG``, else a ``zh`` locale, else English."""
    shelf_lang = env.get("SHELF_LANG", "").strip()
    if asked:
        return asked
    if shelf_lang:
        if shelf_lang not in LANGUAGES:
            raise ValueError(f"SHELF_LANG={shelf_lang!r}: give zh or en (or unset it)")
        return shelf_lang
    locale = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def use(language: str) -> None:
    """Say everything from now on in ``language`` (one command = one language)."""
    global _language
    _language = language if language in LANGUAGES else "en"


def language() -> str:
    return _language


def say(key: str, **values: Any) -> str:
    """The words for ``key`` in the chosen language, ``{name}`` placeholders filled."""
    return WORDS[_language][key].format(**values)


def has(key: str) -> bool:
    return key in WORDS[_language]
