"""The words of a notice: one outbox row's facts rendered for one recipient, Chinese first.

Times are the community's wall-clock (``kiosk.timefmt.local_time``); addresses and codes come
from the row, so a wording fix here reaches notices still waiting to go out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from kiosk.labels import qr_image
from kiosk.notices import (
    DOOR_DELIVERED,
    DOOR_DELIVERY,
    PARCEL_CHANGED,
    PICKUP_READY,
    TEAM_TASKS,
)
from kiosk.ports import Attachment, Notice
from kiosk.timefmt import local_time


def render(kind: str, payload: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    """Write the notice for an outbox row: Chinese first, then English."""
    if kind == PICKUP_READY:
        return _pickup_ready(payload, recipient, timezone)
    if kind == DOOR_DELIVERY:
        return _door_delivery(payload, recipient, timezone)
    if kind == DOOR_DELIVERED:
        return _door_delivered(payload, recipient, timezone)
    if kind == TEAM_TASKS:
        return _team_tasks(payload, recipient, timezone)
    if kind == PARCEL_CHANGED:
        return _parcel_changed(payload, recipient, timezone)
    raise ValueError(f"unknown notice kind {kind!r}")


def _pickup_ready(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    code, slot = p["pickup_code"], p["slot"]
    if not code or not p["pickup_qr"]:
        raise ValueError("a pickup_ready notice without a pickup code")
    when = _local_time(p["checked_in_at"], timezone)
    subject = f"【快递到了 Parcel ready】{slot} · 取件码 Pickup code {code}"
    body = "\n".join([
        _hello_zh(p["name"]),
        "",
        f"您有快递到了{_in(p, 'community', 'zh')}的无接触快递架。",
        f"货位：{slot}（{_in(p, 'place', 'zh')}）",
        f"取件码：{code}",
        f"入架时间：{when}",
        "取件时，请将附件中的二维码对准自助机的摄像头，或在自助机屏幕上输入取件码。",
        "一个取件码即可取走您所有待取的快递。",
        "",
        _hello_en(p["name"]),
        "",
        "A parcel for you has arrived at the contactless delivery shelf of "
        f"{_in(p, 'community', 'en')}.",
        f"Slot: {slot} ({_in(p, 'place', 'en')})",
        f"Pickup code: {code}",
        f"Checked in: {when}",
        "To collect it, show the attached QR code to the kiosk's camera, or type the pickup "
        "code on the kiosk's screen.",
        "One code collects all your waiting parcels.",
        "",
        _footer(p),
    ])
    qr = Attachment("pickup-qr.png", "image/png", qr_image(p["pickup_qr"], kind="png"))
    return Notice(recipient, subject, body, (qr,))


def _door_delivery(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    when = _local_time(p["checked_in_at"], timezone)
    subject = "【快递到了 Parcel arrived】工作人员将送货上门 Staff will bring it to your door"
    body = "\n".join([
        _hello_zh(p["name"]),
        "",
        f"您有快递到了{_in(p, 'community', 'zh')}门岗。",
        "您家正在居家观察，请不要下楼取件：工作人员会把快递送到您家门口。",
        f"到达时间：{when}",
        "",
        _hello_en(p["name"]),
        "",
        f"A parcel for you has arrived at the gate of {_in(p, 'community', 'en')}.",
        "Your household is under home observation, so please do not come down for it: "
        "staff will bring the parcel to your door.",
        f"Arrived: {when}",
        "",
        _footer(p),
    ])
    return Notice(recipient, subject, body)


def _in(p: Mapping[str, Any], key: str, language: str) -> str:
    """A configured name (community, place, team) in ``language``; as queued, for a row queued
    before names were kept per language."""
    return p.get("names", {}).get(key, {}).get(language) or p[key]


def _both(p: Mapping[str, Any], key: str) -> str:
    """A name in Chinese and English, once when both are the same."""
    return " ".join(dict.fromkeys(_in(p, key, code) for code in ("zh", "en")))


def _hello_zh(name: str) -> str:
    return f"{name}，您好：" if name else "您好："


def _hello_en(name: str) -> str:
    return f"Hello {name}," if name else "Hello,"


def _footer(p: Mapping[str, Any]) -> str:
    return f"住户 Household: {p['household']} · 快递单号 Parcel reference: {p['parcel_ref']}"


def _local_time(stored: str, timezone: tzinfo) -> str:
    """``2026-11-29 16:00 (Asia/Shanghai)``: the zone is named, mail may be read far away."""
    return local_time(stored, timezone, "%Y-%m-%d %H:%M", with_zone=True)


def _door_delivered(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    when = _local_time(p["delivered_at"], timezone)
    refs = ", ".join(p["parcel_refs"])
    subject = "【已送到门口 Delivered to your door】您的快递已送到 Your parcel is at your door"
    body = "\n".join([
        _hello_zh(p["name"]),
        "",
        f"{_in(p, 'team_name', 'zh')}已把您的 {len(p['parcel_refs'])} 件快递送到您家门口。",
        f"送达时间：{when}",
        "请开门取回。如门口没有，请联系工作人员。",
        "",
        _hello_en(p["name"]),
        "",
        f"{_in(p, 'team_name', 'en')} brought {len(p['parcel_refs'])} parcel(s) to your door.",
        f"Delivered: {when}",
        "Please take them in. If nothing is at your door, call the staff.",
        "",
        f"住户 Household: {p['household']} · 快递单号 Parcel reference(s): {refs}",
    ])
    return Notice(recipient, subject, body)


# Why a team is told, in both languages: the subject's head and the body's first line.
_TEAM_REASONS = {
    "fresh": ("【生鲜优先 Fresh food first】", "有生鲜快递需要尽快送上门：",
              "Fresh food to carry to a door first:"),
    "handover": ("【任务交接 Handed over】", "以下送货上门任务已交给你们：",
                 "These door tasks were handed over to you:"),
    "escalation": ("【催办 Still waiting】", "以下生鲜快递仍未送上门，请尽快处理：",
                   "This fresh food is still not at its door; please carry it now:"),
}


def _team_tasks(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    head, zh, en = _TEAM_REASONS[p["reason"]]
    tasks = p["tasks"]
    lines = [
        f"#{t['id']} {t['household']} · {t['parcels']} 件 parcel(s) · "
        f"{' '.join(t['slots'])}{' · 生鲜 FRESH' if t['fresh'] else ''}"
        for t in tasks]
    subject = f"{head}{_both(p, 'team_name')}: {len(tasks)} 个送货上门任务 door task(s)"
    when = _local_time(p["at"], timezone)
    body = "\n".join([
        f"{_in(p, 'team_name', 'zh')}：", zh, *lines, f"时间：{when}", "",
        f"{_in(p, 'team_name', 'en')}:", en, *lines, f"At: {when}", "",
        f"{_both(p, 'community')} · /tasks",
    ])
    return Notice(recipient, subject, body)


# What staff did to a parcel, in both languages: the subject's head, then a line each.
_CHANGES = {
    "handed_out": ("【已由工作人员交付 Handed out by staff】",
                   "工作人员核对身份后，已把您的快递交给前来领取的人（未使用取件码）。",
                   "Staff checked the collector's ID and handed your parcel out without the "
                   "pickup code."),
    "moved": ("【货位变更 Moved to another slot】",
              "您的快递已被移到货位 {slot}（{place}）。取件码不变。",
              "Your parcel was moved to slot {slot} ({place}). Your pickup code stays the same."),
    "returned": ("【已退回快递员 Returned to the courier】",
                 "您的快递在架上等了 {days} 天仍未取走，已退回快递员。请联系快递公司重新派送。",
                 "Your parcel waited {days} days uncollected and was returned to the courier. "
                 "Please ask the carrier to deliver it again."),
    "withdrawn": ("【通知有误 Sent by mistake】",
                  "此前关于这件快递的通知有误：它不是您的，或并未放上货架，请忽略。",
                  "Our earlier message about this parcel was a mistake: it is not yours, or it "
                  "never went on the shelf. Please ignore it."),
}


def _parcel_changed(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    """What staff did to a household's parcel: the household hears of it (kiosk.staff_actions)."""
    head, zh, en = _CHANGES[p["action"]]
    values = {"slot": p.get("slot"), "place": p.get("place"), "days": p.get("days")}
    when = _local_time(p["at"], timezone)
    lines_zh = [zh.format(**values), f"时间：{when}"]
    lines_en = [en.format(**values), f"At: {when}"]
    if p.get("code_withdrawn"):
        lines_zh.append("之前发给您的取件码已作废。")
        lines_en.append("The pickup code we sent you before opens nothing any more.")
    body = "\n".join([_hello_zh(p["name"]), "", *lines_zh, "", _hello_en(p["name"]), "",
                      *lines_en, "", _footer(p)])
    return Notice(recipient, f"{head}{p['community']} · {p['parcel_ref']}", body)
