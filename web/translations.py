"""The UI's words in Chinese and English. Every key must exist in both (a test checks).

``{name}`` placeholders are filled by ``t(key, name=...)``.
"""

from __future__ import annotations

TRANSLATIONS: dict[str, dict[str, str]] = {
    "zh": {
        "app_title": "无接触配送货架",
        "shelf_title": "货架实况",
        "login_title": "工作人员登录",
        "username": "用户名",
        "password": "密码",
        "sign_in": "登录",
        "sign_out": "退出",
        "storage_full": "存储空间已满，本次操作未保存。请通知管理员清理磁盘后再试。",
        "store_unavailable": "数据库暂时不可用，本次操作未保存。"
                             "请稍后再试；如持续出现，请通知管理员。",
        "login_failed": "用户名或密码不正确。",
        "login_throttled": "错误次数过多，请 {seconds} 秒后再试。",
        "login_busy": "登录的人太多，请稍后再试。",
        "language": "语言",
        "role_admin": "管理员",
        "role_committee": "居委会",
        "role_property": "物业",
        "zone": "楼栋 {buildings}",
        "zone_any": "不限楼栋",
        "light_on": "灯亮",
        "light_blink": "闪烁",
        "full": "已满",
        "empty": "空",
        "door_delivery": "送货上门",
        "overflow": "暂存区（满架时用）",
        "checked_in_at": "入架时间",
        "more_parcels": "还有 {count} 件，查看全部",
        "slot_title": "{code} 格的全部包裹",
        "slot_waiting": "在架 {count} 件",
        "back_to_shelf": "← 返回货架",
        "summary": "在架 {parcels} 件 · 已满 {full} 格 · 亮灯 {lit} 格",
        "updated": "更新于 {time}",
        "offline": "连接中断，正在重试…",
        "no_js": "页面不会自动刷新：请启用 JavaScript 或手动刷新。",
        "lockouts_title": "登录锁定记录",
        "lockouts_intro": "最近 {days} 天内因密码错误次数过多而暂停登录的用户名和来源地址。",
        "lockouts_none": "最近没有登录被锁定。",
        "lockout_at": "锁定时间",
        "lockout_until": "解锁时间",
        "lockout_client": "来源地址",
        "lockout_every_username": "该地址的所有用户名",
        "lockout_active": "（仍在锁定）",
    },
    "en": {
        "app_title": "Contactless delivery shelf",
        "shelf_title": "Shelf, live",
        "login_title": "Staff sign-in",
        "username": "Username",
        "password": "Password",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "storage_full": "The storage is full: nothing was saved. Ask the administrator to free "
                        "disk space, then try again.",
        "store_unavailable": "The database is unavailable: nothing was saved. Try again later; if "
                             "it persists, tell the administrator.",
        "login_failed": "Wrong username or password.",
        "login_throttled": "Too many failed sign-ins; try again in {seconds} s.",
        "login_busy": "Too many sign-ins at once; try again in a moment.",
        "language": "Language",
        "role_admin": "Administrator",
        "role_committee": "Residents' committee",
        "role_property": "Property company",
        "zone": "Buildings {buildings}",
        "zone_any": "Any building",
        "light_on": "Lit",
        "light_blink": "Blinking",
        "full": "Full",
        "empty": "Empty",
        "door_delivery": "Door delivery",
        "overflow": "Overflow (shelf full)",
        "checked_in_at": "Checked in",
        "more_parcels": "+{count} more, see all",
        "slot_title": "All parcels in {code}",
        "slot_waiting": "{count} waiting",
        "back_to_shelf": "← Back to the shelf",
        "summary": "Waiting: {parcels} · full slots: {full} · lit: {lit}",
        "updated": "Updated {time}",
        "offline": "Connection lost, retrying…",
        "no_js": "This page does not update by itself: enable JavaScript or reload it.",
        "lockouts_title": "Sign-in lockouts",
        "lockouts_intro": "Usernames and addresses kept from signing in after too many wrong "
                          "passwords, over the last {days} days.",
        "lockouts_none": "No sign-in was locked lately.",
        "lockout_at": "Locked at",
        "lockout_until": "Locked until",
        "lockout_client": "From address",
        "lockout_every_username": "every username from this address",
        "lockout_active": "(still locked)",
    },
}

# The words shelf.js says itself (the server renders everything else); sent in the page's JSON.
JS_KEYS = ("offline",)

# Each language named in itself, for the switch.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
