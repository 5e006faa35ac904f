"""The words of a notice: one outbox row's facts rendered for one recipient, Chinese first.

Each kind is written once per language (``words``), from the catalogue's ``notices`` domain
(``kiosk/locale/notices.pot``, ``zh/LC_MESSAGES/notices.po``): Chinese in Chinese only, English
in English only, each with the community's and the place's own name in that language
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import Any

from kiosk.catalogue import LANGUAGES, catalogue
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

QR_ID = "pickup-qr"  # the inline image's Content-ID
HTML_LANG = {"zh": "zh-Hans", "en": "en"}  # the catalogue's languages as BCP 47 tags
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
    # Every notice carries both halves, in the catalogue's order: Chinese first.
    halves = [words(kind, payload, language, timezone) for language in LANGUAGES]
    subject = " | ".join(half.subject for half in halves)
    body = "\n\n".join("\n".join((*half.lead, *half.lines)) for half in halves)
    qr = _qr(payload) if kind in (PICKUP_READY, REMINDER, RETURN_WARNING) else None
    attachments = (qr,) if qr else ()
    # HTML where there is something to show large (slot and code) or a QR to show inline.
    layout = _html(halves, qr, subject) if qr or any(half.lead for half in halves) else ""
    short = _SHORTS[kind](payload, _Say(payload, language, timezone))
    return Notice(recipient, subject, body + "\n", attachments, layout, short)


def words(kind: str, payload: Mapping[str, Any], language: str, timezone: tzinfo) -> Words:
    """One language's words for an outbox row (``render`` puts the halves together)."""
    writer = _WRITERS.get(kind)
    if writer is None:
        raise ValueError(f"unknown notice kind {kind!r}")
    return writer(payload, _Say(payload, language, timezone))


class _Say:
    """What every kind needs in one language: its words (the catalogue's ``notices`` domain),
    names, times, dates, greetings, the footer."""

    def __init__(self, payload: Mapping[str, Any], language: str, timezone: tzinfo) -> None:
        self.p, self.language, self.timezone = payload, language, timezone
        self.zh = language == "zh"

    def __call__(self, key: str, **values: Any) -> str:
        return catalogue("notices").say(self.language, key, **values)

    def name(self, key: str) -> str:
        """A configured name (community, place, team) in this language; as queued, for a row
        queued before names were kept per language."""
        return self.p.get("names", {}).get(key, {}).get(self.language) or self.p[key]

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
        return self("tag", community=self.name("community"))

    def hello(self) -> str:
        name = self.p.get("name")
        return self("hello_name", name=name) if name else self("hello")

    def list(self, items: Iterable[str]) -> str:
        return self("list_sep").join(items)

    def footer(self, refs: list[str] | None = None) -> str:
        """The household and its parcels' numbers: the courier's tracking numbers as 快递单号,
        the shelf's own labels' as 货架标签号 (``carrier_refs``; a row queued before it was
        kept names none)."""
        refs = refs if refs is not None else [self.p["parcel_ref"]]
        carrier = [ref for ref in refs if self.carrier(ref)]
        shelf = [ref for ref in refs if not self.carrier(ref)]
        numbers = [self(key, refs=self.list(group))
                   for key, group in (("ref_carrier", carrier), ("ref_shelf", shelf)) if group]
        return self("footer", household=self.p["household"],
                    refs=self("ref_sep").join(numbers))

    def carrier(self, ref: str) -> bool:
        """True when ``ref`` is a courier's tracking number, not the shelf's label's."""
        return ref in self.p.get("carrier_refs", ())

    def ref(self, ref: str) -> str:
        """One parcel's number, called what it is (``footer``)."""
        return self("ref_carrier" if self.carrier(ref) else "ref_shelf", refs=ref)

    def of(self, names: Mapping[str, str]) -> str:
        """A name kept per language in the payload itself (each parcel's place)."""
        return names[self.language]

    def slot(self, slot: str, place: str) -> str:
        return self("slot", slot=slot, place=place)

    def code(self) -> str:
        return self("code", code=self.p["pickup_code"])

    def how_to_collect(self) -> str:
        return self("how_to_collect")


def _pickup_ready(p: Mapping[str, Any], say: _Say) -> Words:
    code, slot = p["pickup_code"], p["slot"]
    if not code or not p["pickup_qr"]:
        raise ValueError("a pickup_ready notice without a pickup code")
    fresh = p.get("fresh", False)
    subject = say("pickup_subject_fresh" if fresh else "pickup_subject", slot=slot, code=code)
    lead = [say.slot(slot, say.name("place")), say.code()]
    if fresh:  # said first: fresh food spoils
        lead.insert(0, say("pickup_fresh"))
    lines = [
        "",
        say.hello(),
        say("pickup_arrived", community=say.name("community")),
        say("pickup_checked_in", time=say.time(p["checked_in_at"])),
    ]
    if p.get("keep_until"):
        lines.append(say("pickup_kept_until", until=say.date(p["keep_until"])))
    lines += [say.how_to_collect(), "", say.footer()]
    return Words(subject, tuple(lead), tuple(lines))


def _door_delivery(p: Mapping[str, Any], say: _Say) -> Words:
    fresh = p.get("fresh", False)
    subject = say("door_subject_fresh" if fresh else "door_subject")
    lead = (say("door_fresh"),) if fresh else ()
    return Words(subject, lead, (
        say.hello(),
        say("door_arrived", community=say.name("community")),
        say("door_stay_in"),
        say("door_arrived_at", time=say.time(p["checked_in_at"])),
        "",
        say.footer(),
    ))


def _door_delivered(p: Mapping[str, Any], say: _Say) -> Words:
    count, when = len(p["parcel_refs"]), say.time(p["delivered_at"])
    return Words(
        say("delivered_subject"),
        (), (
            say.hello(),
            say("delivered_by", team=say.name("team_name"), count=count),
            say("delivered_at", time=when),
            say("delivered_take_in"),
            "",
            say.footer(list(p["parcel_refs"])),
        ))


def _collected(p: Mapping[str, Any], say: _Say) -> Words:
    """The household's parcels just left the shelf with its code or QR (kiosk.services)."""
    count, when, slots = len(p["parcel_refs"]), say.time(p["at"]), p["slots"]
    return Words(
        say("collected_subject", count=count),
        (), (
            say.hello(),
            say("collected_body", community=say.name("community"), count=count),
            say("collected_at", time=when),
            say("collected_slots", slots=say.list(slots)),
            say("collected_not_you"),
            "",
            say.footer(list(p["parcel_refs"])),
        ))


def _waiting_lines(p: Mapping[str, Any], say: _Say) -> list[str]:
    """One line per waiting parcel: slot, place, since when, kept until when."""
    return [say("waiting_line", slot=parcel["slot"], place=say.of(parcel["place"]),
                since=say.time(parcel["checked_in_at"]), until=say.date(parcel["keep_until"]),
                ref=say.ref(parcel["ref"]))
            for parcel in p["parcels"]]


def _pickup_lead(p: Mapping[str, Any], say: _Say) -> tuple[str, ...]:
    """The slot (or slots) and the code, as the pickup notice leads with them."""
    first, slots = p["parcels"][0], list(dict.fromkeys(item["slot"] for item in p["parcels"]))
    lead = [say.slot(first["slot"], say.of(first["place"])) if len(slots) == 1
            else say("lead_slots", slots=say.list(slots))]
    return (*lead, say.code()) if p.get("pickup_code") else tuple(lead)


def _reminder(p: Mapping[str, Any], say: _Say) -> Words:
    """Parcels still waiting after ``days`` days (kiosk.notices.reminders)."""
    count, days = len(p["parcels"]), p["days"]
    lines = [
        "",
        say.hello(),
        say("reminder_body", community=say.name("community"), count=count, days=days),
        *_waiting_lines(p, say),
    ]
    if p.get("pickup_code"):
        lines.append(say.how_to_collect())
    lines += ["", say.footer([item["ref"] for item in p["parcels"]])]
    return Words(say("reminder_subject", count=count), _pickup_lead(p, say), tuple(lines))


def _return_warning(p: Mapping[str, Any], say: _Say) -> Words:
    """Parcels about to go back to the courier on ``return_on`` (kiosk.notices.reminders)."""
    count, on = len(p["parcels"]), say.date(p["return_on"])
    lines = [
        "",
        say.hello(),
        say("return_body", community=say.name("community"), count=count, on=on),
        *_waiting_lines(p, say),
    ]
    if p.get("pickup_code"):
        lines.append(say.how_to_collect())
    lines += ["", say.footer([item["ref"] for item in p["parcels"]])]
    return Words(say("return_subject", count=count, on=on), _pickup_lead(p, say),
                 tuple(lines))


def _team_tasks(p: Mapping[str, Any], say: _Say) -> Words:
    """Why a team is told (``reason``: fresh, handover, new, escalation), then its tasks."""
    reason, tasks, team = p["reason"], p["tasks"], say.name("team_name")
    lines = [say("team_task", id=t["id"], household=t["household"], parcels=t["parcels"],
                 slots=" ".join(t["slots"]), fresh=say("team_task_fresh") if t["fresh"] else "")
             for t in tasks]
    return Words(
        say("team_subject", head=say(f"team_head_{reason}"), team=team, count=len(tasks)),
        (), (
            say("team_to", team=team), say(f"team_why_{reason}"), *lines,
            say("at", time=say.time(p["at"])),
            "",
            say("team_footer", community=say.name("community")),
        ))


def _parcel_changed(p: Mapping[str, Any], say: _Say) -> Words:
    """What staff did to a household's parcel (``action``: handed_out, moved, returned,
    withdrawn): the household hears of it (kiosk.staff_actions)."""
    action = p["action"]
    values = {"slot": p.get("slot"), "place": p.get("place") and say.name("place"),
              "days": p.get("days")}
    lines = [say.hello(), say(f"changed_{action}", **values),
             say("at", time=say.time(p["at"]))]
    if p.get("code_withdrawn"):
        lines.append(say("changed_code_withdrawn"))
    return Words(say(f"changed_head_{action}") + f"{say.name('community')} · {p['parcel_ref']}",
                 (), (*lines, "", say.footer()))


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
    fresh = say("short_pickup_fresh") if p.get("fresh") else ""
    text = say("short_pickup", code=p["pickup_code"], slot=p["slot"], place=say.name("place"))
    until = say("short_until", day=say.day(p["keep_until"])) if p.get("keep_until") else ""
    return f"{say.tag()}{fresh}{text}{until}{say('short_end')}"


def _door_delivery_short(p: Mapping[str, Any], say: _Say) -> str:
    fresh = say("short_door_fresh") if p.get("fresh") else ""
    return say.tag() + fresh + say("short_door")


def _door_delivered_short(p: Mapping[str, Any], say: _Say) -> str:
    return say.tag() + say("short_delivered", team=say.name("team_name"),
                           count=len(p["parcel_refs"]))


def _collected_short(p: Mapping[str, Any], say: _Say) -> str:
    at = datetime.fromisoformat(p["at"]).astimezone(say.timezone).strftime("%H:%M")
    return say.tag() + say("short_collected", count=len(p["parcel_refs"]), at=at)


def _waiting_short(p: Mapping[str, Any], say: _Say) -> str:
    """Where the waiting parcels are and the code that opens them (reminders, warnings)."""
    text = say("short_slots", slots=say.list(dict.fromkeys(item["slot"]
                                                           for item in p["parcels"])))
    if p.get("pickup_code"):
        text += say("short_code", code=p["pickup_code"])
    return text


def _reminder_short(p: Mapping[str, Any], say: _Say) -> str:
    return say.tag() + say("short_reminder", count=len(p["parcels"]), days=p["days"],
                           waiting=_waiting_short(p, say))


def _return_warning_short(p: Mapping[str, Any], say: _Say) -> str:
    return say.tag() + say("short_return", count=len(p["parcels"]),
                           on=say.day(p["return_on"]), waiting=_waiting_short(p, say))


def _parcel_changed_short(p: Mapping[str, Any], say: _Say) -> str:
    words = _parcel_changed(p, say)  # its second line says what staff did
    withdrawn = say("short_code_withdrawn") if p.get("code_withdrawn") else ""
    return say.tag() + words.lines[1] + withdrawn


def _team_tasks_short(p: Mapping[str, Any], say: _Say) -> str:
    rooms = [t["household"] + say("short_room_fresh") * t["fresh"] for t in p["tasks"]]
    return say.tag() + say("short_team", head=say(f"team_head_{p['reason']}"),
                           team=say.name("team_name"), rooms=say.list(rooms))


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


def _html(halves: list[Words], qr: Attachment | None, subject: str) -> str:
    """The mail reader's layout: each half's lead in large type, the QR inline (at the top,
    under the first half's lead), then the rest. The page is Chinese, its English half marked
    so (a screen reader switches voice, a browser offers the right translation)."""
    parts = []
    for index, (language, half) in enumerate(zip(LANGUAGES, halves, strict=True)):
        lead = "".join(f'<p style="font-size:28px;font-weight:bold;margin:4px 0">'
                       f"{html.escape(line)}</p>" for line in half.lead)
        alt = html.escape(catalogue("notices").say(language, "qr_alt"), quote=True)
        image = (f'<p><img src="cid:{qr.inline_id}" alt="{alt}" width="220" height="220"></p>'
                 if qr and index == 0 else "")
        rest = "<br>".join(html.escape(line) for line in half.lines)
        parts.append(f'<div lang="{HTML_LANG[language]}">{lead}{image}<p>{rest}</p></div>')
    return (f'<!doctype html><html lang="{HTML_LANG[LANGUAGES[0]]}"><head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head>"
            '<body style="font-family:sans-serif">' + "<hr>".join(parts) + "</body></html>")
