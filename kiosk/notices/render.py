"""The words of a notice: one outbox row's facts rendered for one recipient, Chinese first.

Each kind is written once per language (``words``): Chinese in Chinese only, English in English
only, each with the community's and the place's own name in that language
(``names_in_languages``). A notice carries both halves, Chinese first (``render``); the subject
too. The pickup notice leads with the slot and the code (the text's first lines, large type
in the HTML) and shows its QR inside the HTML (``cid:``), as well as attached; the QR is
drawn only when a channel first reads its bytes (``Attachment.data``), at most once.

A text message carries the ``short`` form instead (``Notice.short``, one SMS: 70 Chinese
characters): one language, the community's (``[community] language``), no QR, e.g.
``【示例花园】取件码 482913，货位 A-12（门岗A架），保留至12月6日。``

Times are the community's wall-clock (``kiosk.timefmt.local_time``); addresses and codes come
from the row, so a wording fix here reaches notices still waiting to go out.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import Any

from kiosk.labels import qr_image
from kiosk.notices import (
    COLLECTED,
    DOOR_DELIVERED,
    DOOR_DELIVERY,
    PARCEL_CHANGED,
    PICKUP_READY,
    REMINDER,
    RETURN_WARNING,
    TEAM_TASKS,
)
from kiosk.ports import Attachment, Notice
from kiosk.timefmt import local_time

LANGUAGES = ("zh", "en")  # every notice carries both halves, in this order
QR_ID = "pickup-qr"  # the inline image's Content-ID
_BEIJING_TIME = {"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"}  # zones of 北京时间


@dataclass(frozen=True)
class Words:
    """One language's half of a notice: its subject, the lines to show large, the rest."""

    subject: str
    lead: tuple[str, ...]  # the first lines: what the resident needs at the shelf
    lines: tuple[str, ...]


def render(kind: str, payload: Mapping[str, Any], recipient: str, timezone: tzinfo,
           language: str = "zh") -> Notice:
    """Write the notice for an outbox row: Chinese first, then English; and its short form
    in the community's ``language``, for a text message."""
    halves = [words(kind, payload, language, timezone) for language in LANGUAGES]
    subject = " | ".join(half.subject for half in halves)
    body = "\n\n".join("\n".join((*half.lead, *half.lines)) for half in halves)
    qr = _qr(payload) if kind in (PICKUP_READY, REMINDER, RETURN_WARNING) else None
    attachments = (qr,) if qr else ()
    # HTML where there is something to show large (slot and code) or a QR to show inline.
    layout = _html(halves, qr) if qr or any(half.lead for half in halves) else ""
    short = _SHORTS[kind](payload, _Say(payload, language, timezone))
    return Notice(recipient, subject, body + "\n", attachments, layout, short)


def words(kind: str, payload: Mapping[str, Any], language: str, timezone: tzinfo) -> Words:
    """One language's words for an outbox row (``render`` puts the halves together)."""
    writer = _WRITERS.get(kind)
    if writer is None:
        raise ValueError(f"unknown notice kind {kind!r}")
    return writer(payload, _Say(payload, language, timezone))


class _Say:
    """What every kind needs in one language: names, times, dates, greetings, the footer."""

    def __init__(self, payload: Mapping[str, Any], language: str, timezone: tzinfo) -> None:
        self.p, self.zh, self.timezone = payload, language == "zh", timezone

    def __call__(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def name(self, key: str) -> str:
        """A configured name (community, place, team) in this language; as queued, for a row
        queued before names were kept per language."""
        language = "zh" if self.zh else "en"
        return self.p.get("names", {}).get(key, {}).get(language) or self.p[key]

    def time(self, stored: str) -> str:
        """``2026-11-29 16:00（北京时间）`` / ``2026-11-29 16:00 (Asia/Shanghai)``: the zone is
        named, mail may be read far away."""
        if not self.zh:
            return local_time(stored, self.timezone, "%Y-%m-%d %H:%M", with_zone=True)
        local = datetime.fromisoformat(stored).astimezone(self.timezone)
        offset = local.utcoffset() or timedelta()
        if getattr(self.timezone, "key", None) in _BEIJING_TIME:
            zone = "北京时间"
        else:
            minutes = int(offset.total_seconds()) // 60
            sign = "+" if minutes >= 0 else "-"
            zone = f"当地时间 {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        return f"{local:%Y-%m-%d %H:%M}（{zone}）"

    def date(self, stored: str) -> str:
        """A day people plan by: ``12月6日（周日）`` / ``Sun 6 Dec``."""
        local = datetime.fromisoformat(stored).astimezone(self.timezone)
        if self.zh:
            return f"{local.month}月{local.day}日（周{'一二三四五六日'[local.weekday()]}）"
        return f"{local:%a} {local.day} {local:%b %Y}"

    def day(self, stored: str) -> str:
        """A day in a text message: ``12月6日`` / ``6 Dec``."""
        local = datetime.fromisoformat(stored).astimezone(self.timezone)
        return f"{local.month}月{local.day}日" if self.zh else f"{local.day} {local:%b}"

    def tag(self) -> str:
        """Who sends a text message: ``【示例花园】`` / ``[Sample Garden]``."""
        return self(f"【{self.name('community')}】", f"[{self.name('community')}] ")

    def hello(self) -> str:
        name = self.p.get("name")
        if self.zh:
            return f"{name}，您好：" if name else "您好："
        return f"Hello {name}," if name else "Hello,"

    def footer(self, refs: list[str] | None = None) -> str:
        refs = refs if refs is not None else [self.p["parcel_ref"]]
        if self.zh:
            return f"住户：{self.p['household']} · 快递单号：{'、'.join(refs)}"
        return f"Household: {self.p['household']} · Parcel reference(s): {', '.join(refs)}"

    def of(self, names: Mapping[str, str]) -> str:
        """A name kept per language in the payload itself (each parcel's place)."""
        return names["zh" if self.zh else "en"]

    def slot(self, slot: str, place: str) -> str:
        return self(f"货位：{slot}（{place}）", f"Slot: {slot} ({place})")

    def code(self) -> str:
        return self(f"取件码：{self.p['pickup_code']}", f"Pickup code: {self.p['pickup_code']}")

    def how_to_collect(self) -> str:
        return self("取件时，请将二维码（见下方或附件）对准自助机的摄像头，"
                    "或在自助机屏幕上输入取件码。一个取件码即可取走您所有待取的快递。",
                    "To collect, show the QR code (below, or attached) to the kiosk's camera, or "
                    "type the pickup code on the kiosk's screen. One code collects all your "
                    "waiting parcels.")


def _pickup_ready(p: Mapping[str, Any], say: _Say) -> Words:
    code, slot = p["pickup_code"], p["slot"]
    if not code or not p["pickup_qr"]:
        raise ValueError("a pickup_ready notice without a pickup code")
    fresh = p.get("fresh", False)
    head = say("【生鲜 请尽快取】" if fresh else "【快递到了】",
               "Fresh food, collect it soon: " if fresh else "Parcel ready: ")
    subject = head + say(f"货位 {slot} · 取件码 {code}", f"slot {slot}, pickup code {code}")
    lead = [say.slot(slot, say.name("place")), say.code()]
    if fresh:  # said first: fresh food spoils
        lead.insert(0, say("这是生鲜食品，请尽快取走。",
                           "This is fresh food: please collect it soon."))
    lines = [
        "",
        say.hello(),
        say(f"您有快递到了{say.name('community')}的无接触快递架。",
            f"A parcel for you has arrived at the contactless delivery shelf of "
            f"{say.name('community')}."),
        say(f"入架时间：{say.time(p['checked_in_at'])}",
            f"Checked in: {say.time(p['checked_in_at'])}"),
    ]
    if p.get("keep_until"):
        until = say.date(p["keep_until"])
        lines.append(say(f"保管至：{until}，逾期未取将退回快递员。",
                         f"Kept until: {until}; then it goes back to the courier."))
    lines += [say.how_to_collect(), "", say.footer()]
    return Words(subject, tuple(lead), tuple(lines))


def _door_delivery(p: Mapping[str, Any], say: _Say) -> Words:
    fresh = p.get("fresh", False)
    subject = say("【生鲜到了】工作人员将尽快送货上门" if fresh
                  else "【快递到了】工作人员将送货上门",
                  "Fresh food arrived: staff will bring it to your door first" if fresh
                  else "Parcel arrived: staff will bring it to your door")
    lead = ((say("这是生鲜食品，会优先送到。", "This is fresh food: it goes first."),)
            if fresh else ())
    return Words(subject, lead, (
        say.hello(),
        say(f"您有快递到了{say.name('community')}门岗。",
            f"A parcel for you has arrived at the gate of {say.name('community')}."),
        say("您家正在居家观察，请不要下楼取件：工作人员会把快递送到您家门口。",
            "Your household is under home observation, so please do not come down for it: "
            "staff will bring the parcel to your door."),
        say(f"到达时间：{say.time(p['checked_in_at'])}",
            f"Arrived: {say.time(p['checked_in_at'])}"),
        "",
        say.footer(),
    ))


def _door_delivered(p: Mapping[str, Any], say: _Say) -> Words:
    count, when = len(p["parcel_refs"]), say.time(p["delivered_at"])
    return Words(
        say("【已送到门口】您的快递已送到", "Delivered to your door: your parcel is at your door"),
        (), (
            say.hello(),
            say(f"{say.name('team_name')}已把您的 {count} 件快递送到您家门口。",
                f"{say.name('team_name')} brought {count} parcel(s) to your door."),
            say(f"送达时间：{when}", f"Delivered: {when}"),
            say("请开门取回。如门口没有，请联系工作人员。",
                "Please take them in. If nothing is at your door, call the staff."),
            "",
            say.footer(list(p["parcel_refs"])),
        ))


def _collected(p: Mapping[str, Any], say: _Say) -> Words:
    """The household's parcels just left the shelf with its code or QR (kiosk.services)."""
    count, when, slots = len(p["parcel_refs"]), say.time(p["at"]), p["slots"]
    return Words(
        say(f"【已取件】{count} 件快递已取走",
            f"Collected: {count} parcel(s) taken from the shelf"),
        (), (
            say.hello(),
            say(f"您在{say.name('community')}快递架上的 {count} 件快递已用取件码取走。",
                f"Your {count} parcel(s) on the shelf of {say.name('community')} were collected "
                "with your pickup code."),
            say(f"取件时间：{when}", f"Collected: {when}"),
            say(f"货位：{'、'.join(slots)}", f"Slot(s): {', '.join(slots)}"),
            say("如不是您或家人取走的，请立即联系工作人员。",
                "If it was not you or your family, call the staff at once."),
            "",
            say.footer(list(p["parcel_refs"])),
        ))


def _waiting_lines(p: Mapping[str, Any], say: _Say) -> list[str]:
    """One line per waiting parcel: slot, place, since when, kept until when."""
    lines = []
    for parcel in p["parcels"]:
        since, until = say.time(parcel["checked_in_at"]), say.date(parcel["keep_until"])
        lines.append(say(
            f"· 货位 {parcel['slot']}（{say.of(parcel['place'])}）· 入架 {since}"
            f" · 保管至 {until} · 快递单号 {parcel['ref']}",
            f"· Slot {parcel['slot']} ({say.of(parcel['place'])}) · since {since}"
            f" · kept until {until} · ref {parcel['ref']}"))
    return lines


def _pickup_lead(p: Mapping[str, Any], say: _Say) -> tuple[str, ...]:
    """The slot (or slots) and the code, as the pickup notice leads with them."""
    first, slots = p["parcels"][0], list(dict.fromkeys(item["slot"] for item in p["parcels"]))
    lead = [say.slot(first["slot"], say.of(first["place"])) if len(slots) == 1
            else say(f"货位：{'、'.join(slots)}", f"Slots: {', '.join(slots)}")]
    return (*lead, say.code()) if p.get("pickup_code") else tuple(lead)


def _reminder(p: Mapping[str, Any], say: _Say) -> Words:
    """Parcels still waiting after ``days`` days (kiosk.notices.reminders)."""
    count, days = len(p["parcels"]), p["days"]
    lines = [
        "",
        say.hello(),
        say(f"您在{say.name('community')}快递架上有 {count} 件快递"
            f"已等候 {days} 天以上，请尽快取件：",
            f"{count} parcel(s) of yours have waited {days} day(s) or more on the shelf of "
            f"{say.name('community')}. Please collect them soon:"),
        *_waiting_lines(p, say),
    ]
    if p.get("pickup_code"):
        lines.append(say.how_to_collect())
    lines += ["", say.footer([item["ref"] for item in p["parcels"]])]
    return Words(say(f"【待取提醒】您有 {count} 件快递等候取件",
                     f"Reminder: {count} parcel(s) waiting for you"),
                 _pickup_lead(p, say), tuple(lines))


def _return_warning(p: Mapping[str, Any], say: _Say) -> Words:
    """Parcels about to go back to the courier on ``return_on`` (kiosk.notices.reminders)."""
    count, on = len(p["parcels"]), say.date(p["return_on"])
    lines = [
        "",
        say.hello(),
        say(f"您在{say.name('community')}快递架上的 {count} 件快递"
            f"如仍未取走，将于{on}起退回快递员（各件保管期见下）：",
            f"If not collected, {count} parcel(s) of yours on the shelf of "
            f"{say.name('community')} go back to the courier from {on} (each one's date "
            "below):"),
        *_waiting_lines(p, say),
    ]
    if p.get("pickup_code"):
        lines.append(say.how_to_collect())
    lines += ["", say.footer([item["ref"] for item in p["parcels"]])]
    return Words(say(f"【即将退回】{count} 件快递将于{on}退回快递员",
                     f"To be returned: {count} parcel(s) go back to the courier on {on}"),
                 _pickup_lead(p, say), tuple(lines))


# Why a team is told: the subject's head and the body's first line, per language.
_TEAM_REASONS = {
    "fresh": (("【生鲜优先】", "有生鲜快递需要尽快送上门："),
              ("Fresh food first: ", "Fresh food to carry to a door first:")),
    "handover": (("【任务交接】", "以下送货上门任务已交给你们："),
                 ("Handed over: ", "These door tasks were handed over to you:")),
    "new": (("【新任务】", "有新的送货上门任务："),
            ("New door tasks: ", "New door tasks for you:")),
    "escalation": (("【催办】", "以下生鲜快递仍未送上门，请尽快处理："),
                   ("Still waiting: ", "This fresh food is still not at its door; please carry it "
                                       "now:")),
}


def _team_tasks(p: Mapping[str, Any], say: _Say) -> Words:
    (head_zh, zh), (head_en, en) = _TEAM_REASONS[p["reason"]]
    tasks, team = p["tasks"], say.name("team_name")
    lines = [say(f"#{t['id']} {t['household']} · {t['parcels']} 件 · {' '.join(t['slots'])}"
                 f"{' · 生鲜' if t['fresh'] else ''}",
                 f"#{t['id']} {t['household']} · {t['parcels']} parcel(s) · "
                 f"{' '.join(t['slots'])}{' · FRESH' if t['fresh'] else ''}") for t in tasks]
    return Words(
        say(f"{head_zh}{team}：{len(tasks)} 个送货上门任务",
            f"{head_en}{team}: {len(tasks)} door task(s)"),
        (), (
            say(f"{team}：", f"{team}:"), say(zh, en), *lines,
            say(f"时间：{say.time(p['at'])}", f"At: {say.time(p['at'])}"),
            "",
            say(f"{say.name('community')} · 送货上门任务见员工网站“任务”页",
                f"{say.name('community')} · door tasks at /tasks"),
        ))


# What staff did to a parcel, per language: the subject's head, then a line.
_CHANGES = {
    "handed_out": (("【已由工作人员交付】",
                    "工作人员核对身份后，已把您的快递交给前来领取的人（未使用取件码）。"),
                   ("Handed out by staff: ",
                    "Staff checked the collector's ID and handed your parcel out without the "
                    "pickup code.")),
    "moved": (("【货位变更】", "您的快递已被移到货位 {slot}（{place}）。取件码不变。"),
              ("Moved to another slot: ",
               "Your parcel was moved to slot {slot} ({place}). Your pickup code stays the "
               "same.")),
    "returned": (("【已退回快递员】",
                  "您的快递在架上等了 {days} 天仍未取走，已退回快递员。请联系快递公司重新派送。"),
                 ("Returned to the courier: ",
                  "Your parcel waited {days} days uncollected and was returned to the courier. "
                  "Please ask the carrier to deliver it again.")),
    "withdrawn": (("【通知有误】",
                   "此前关于这件快递的通知有误：它不是您的，或并未放上货架，请忽略。"),
                  ("Sent by mistake: ",
                   "Our earlier message about this parcel was a mistake: it is not yours, or it "
                   "never went on the shelf. Please ignore it.")),
}


def _parcel_changed(p: Mapping[str, Any], say: _Say) -> Words:
    """What staff did to a household's parcel: the household hears of it (kiosk.staff_actions)."""
    (head_zh, zh), (head_en, en) = _CHANGES[p["action"]]
    values = {"slot": p.get("slot"), "place": p.get("place") and say.name("place"),
              "days": p.get("days")}
    lines = [say.hello(), say(zh, en).format(**values),
             say(f"时间：{say.time(p['at'])}", f"At: {say.time(p['at'])}")]
    if p.get("code_withdrawn"):
        lines.append(say("之前发给您的取件码已作废。",
                         "The pickup code we sent you before opens nothing any more."))
    return Words(say(head_zh, head_en) + f"{say.name('community')} · {p['parcel_ref']}", (),
                 (*lines, "", say.footer()))


_WRITERS: dict[str, Callable[[Mapping[str, Any], _Say], Words]] = {
    PICKUP_READY: _pickup_ready,
    DOOR_DELIVERY: _door_delivery,
    DOOR_DELIVERED: _door_delivered,
    TEAM_TASKS: _team_tasks,
    PARCEL_CHANGED: _parcel_changed,
    COLLECTED: _collected,
    REMINDER: _reminder,
    RETURN_WARNING: _return_warning,
}


# --- one text message each ------------------------------------------------------------------

def _pickup_ready_short(p: Mapping[str, Any], say: _Say) -> str:
    fresh = say("生鲜，请尽快取。", "Fresh food, collect it soon. ") if p.get("fresh") else ""
    slot, place, code = p["slot"], say.name("place"), p["pickup_code"]
    text = say(f"取件码 {code}，货位 {slot}（{place}）",
               f"Pickup code {code}, slot {slot} ({place})")
    day = p.get("keep_until") and say.day(p["keep_until"])
    until = say(f"，保留至{day}", f", kept until {day}") if day else ""
    return f"{say.tag()}{fresh}{text}{until}{say('。', '.')}"


def _door_delivery_short(p: Mapping[str, Any], say: _Say) -> str:
    fresh = say("生鲜，优先送。", "Fresh food, it goes first. ") if p.get("fresh") else ""
    return say.tag() + fresh + say("您有快递到了门岗，工作人员将送到您家门口，请勿下楼取件。",
                                   "A parcel for you arrived; staff will bring it to your "
                                   "door. Please do not come down for it.")


def _door_delivered_short(p: Mapping[str, Any], say: _Say) -> str:
    count, team = len(p["parcel_refs"]), say.name("team_name")
    return say.tag() + say(f"{team}已把您的 {count} 件快递送到家门口，请开门取回。",
                           f"{team} left {count} parcel(s) at your door.")


def _collected_short(p: Mapping[str, Any], say: _Say) -> str:
    count = len(p["parcel_refs"])
    at = datetime.fromisoformat(p["at"]).astimezone(say.timezone).strftime("%H:%M")
    return say.tag() + say(f"您的 {count} 件快递已于{at}取走。如非本人或家人取走，请联系工作人员。",
                           f"{count} parcel(s) of yours were collected at {at}. Not you or your "
                           "family? Call the staff.")


def _waiting_short(p: Mapping[str, Any], say: _Say) -> str:
    """Where the waiting parcels are and the code that opens them (reminders, warnings)."""
    slots = "、".join(dict.fromkeys(item["slot"] for item in p["parcels"]))
    text = say(f"货位 {slots}", f"slot(s) {slots.replace('、', ', ')}")
    if p.get("pickup_code"):
        text += say(f"，取件码 {p['pickup_code']}", f", pickup code {p['pickup_code']}")
    return text


def _reminder_short(p: Mapping[str, Any], say: _Say) -> str:
    count, days = len(p["parcels"]), p["days"]
    return say.tag() + say(f"您有 {count} 件快递已等候 {days} 天以上，{_waiting_short(p, say)}，"
                           "请尽快取件。",
                           f"{count} parcel(s) have waited {days} day(s) or more: "
                           f"{_waiting_short(p, say)}. Please collect them soon.")


def _return_warning_short(p: Mapping[str, Any], say: _Say) -> str:
    count, on = len(p["parcels"]), say.day(p["return_on"])
    return say.tag() + say(f"您的 {count} 件快递如未取走，将于{on}退回快递员。"
                           f"{_waiting_short(p, say)}。",
                           f"{count} parcel(s) go back to the courier on {on} unless collected: "
                           f"{_waiting_short(p, say)}.")


def _parcel_changed_short(p: Mapping[str, Any], say: _Say) -> str:
    words = _parcel_changed(p, say)  # its second line says what staff did
    withdrawn = (say("取件码已作废。", " Your pickup code opens nothing any more.")
                 if p.get("code_withdrawn") else "")
    return say.tag() + words.lines[1] + withdrawn


def _team_tasks_short(p: Mapping[str, Any], say: _Say) -> str:
    (head_zh, _), (head_en, _) = _TEAM_REASONS[p["reason"]]
    rooms = [t["household"] + say("（生鲜）", " (fresh)") * t["fresh"] for t in p["tasks"]]
    return say.tag() + say(f"{head_zh}{say.name('team_name')}：{'、'.join(rooms)}",
                           f"{head_en}{say.name('team_name')}: {', '.join(rooms)}")


_SHORTS: dict[str, Callable[[Mapping[str, Any], _Say], str]] = {
    PICKUP_READY: _pickup_ready_short,
    DOOR_DELIVERY: _door_delivery_short,
    DOOR_DELIVERED: _door_delivered_short,
    TEAM_TASKS: _team_tasks_short,
    PARCEL_CHANGED: _parcel_changed_short,
    COLLECTED: _collected_short,
    REMINDER: _reminder_short,
    RETURN_WARNING: _return_warning_short,
}


def _qr(p: Mapping[str, Any]) -> Attachment | None:
    if not p.get("pickup_qr"):
        return None
    # Drawn only if a channel sends it (mail; Apprise to an address that takes files): about
    # 80 % of the worker's own cost per notice, wasted on an SMS or a bot.
    return Attachment("pickup-qr.png", "image/png", partial(qr_image, p["pickup_qr"], kind="png"),
                      inline_id=QR_ID)


def _html(halves: list[Words], qr: Attachment | None) -> str:
    """The mail reader's layout: each half's lead in large type, the QR inline, then the rest."""
    parts = []
    for index, half in enumerate(halves):
        lead = "".join(f'<p style="font-size:28px;font-weight:bold;margin:4px 0">'
                       f"{html.escape(line)}</p>" for line in half.lead)
        image = (f'<p><img src="cid:{qr.inline_id}" alt="QR" width="220" height="220"></p>'
                 if qr and index == 0 else "")
        rest = "<br>".join(html.escape(line) for line in half.lines)
        parts.append(f"<div>{lead}{image}<p>{rest}</p></div>")
    return ('<!doctype html><html><body style="font-family:sans-serif">'
            + "<hr>".join(parts) + "</body></html>")
