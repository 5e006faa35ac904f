"""What the notice worker costs per notice, against a bare HTTP POST of the same kind.

A sample community with two channels, an SMS gateway's JSON webhook (the local receiver,
``kiosk/app/sim/receiver.py``) and e-mail (the local SMTP catcher), in that order. Parcels are
checked in through the real use case, which queues their notices; then ``deliver_due`` passes
send them all, each claimed with a lease, rendered, posted over real HTTP on 127.0.0.1 and
marked sent in its own short transaction. The baseline is ``urllib`` posting the same number
of small JSON bodies to the same receiver: the ratio is what the outbox, the lease and the
rendering add to the network's own cost. A second run with a channel that does nothing shows
the worker's own share (claim, render, mark), with few and with many notices waiting. The
pickup QR (segno drawing a PNG, about 3 ms) is not in it: it is drawn only when a channel reads
the attachment's bytes (e-mail, Apprise to a non-phone address), and an SMS never does; before
it was drawn for every notice, about 80 % of the worker's own share.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.community import sample_community
from bench.stats import summary_ms, timed
from kiosk.app.sim.receiver import Receiver
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.notices.delivery import build_channels, deliver_due
from kiosk.ports import Notice
from kiosk.services import Rules, act_on_payload
from kiosk.store import SqliteUnitOfWork

HOUSEHOLDS = ["24-2304", "13-1102", "15-1205", "2-902", "24-2403"]  # all reached by SMS first
SENT = 300


class Nothing:
    """A channel that accepts every notice at once: the worker's own cost, no network."""

    name = "nothing"

    def send(self, notice: Notice) -> None:
        return None


def _community(folder: Path, receiver: Receiver) -> Any:
    config = sample_community(folder, real_hash=False)
    path = Path(config.path)
    text = path.read_text(encoding="utf-8")
    sms = f'[[channels]]\ntype = "webhook"\nid = "sms"\nurl = "{receiver.url}/sms"\n\n'
    path.write_text(text.replace("[[channels]]", sms + "[[channels]]", 1), encoding="utf-8")
    return load_config(path)


def _check_in(config: Any, uow: SqliteUnitOfWork, count: int) -> None:
    rules, clock = Rules.from_config(config), SystemClock()
    for n, household in zip(range(count), itertools.cycle(HOUSEHOLDS), strict=False):
        label = make_label(config.label_secret, HouseholdId.parse(household), f"B{n:06d}")
        if act_on_payload(label.encode(), uow, rules, clock).action != "checkin":
            raise RuntimeError(f"parcel {n} for {household} did not check in")


def _drain(config: Any, uow: SqliteUnitOfWork, channels: dict[str, Any]) -> tuple[float, int]:
    """Deliver until nothing is due; the seconds it took and the notices sent."""
    clock, sent, started = SystemClock(), 0, time.perf_counter()
    while True:
        report = deliver_due(uow, channels, clock, timezone=config.community.timezone,
                             batch=50)
        if report.retried or report.failed:
            raise RuntimeError(f"a notice did not go out at once: {report}")
        if not report.sent:
            return time.perf_counter() - started, sent
        sent += report.sent


def _bare_posts(receiver: Receiver, count: int) -> list[float]:
    body = json.dumps({"mobile": "13800002304", "content": "x" * 200}).encode()
    samples = []
    for _ in range(count):
        request = urllib.request.Request(f"{receiver.url}/sms", body,
                                         {"Content-Type": "application/json"})
        seconds, _ = timed(lambda r=request: urllib.request.urlopen(r, timeout=5).read())
        samples.append(seconds)
    return samples


def _send_all(config: Any, count: int, channels: dict[str, Any]) -> tuple[float, int]:
    """Check ``count`` parcels in, then deliver their notices; (seconds, notices sent)."""
    conn = open_store(config)
    try:
        uow = SqliteUnitOfWork(conn)
        _check_in(config, uow, count)
        return _drain(config, uow, channels)
    finally:
        conn.close()


def _through_the_worker(folder: Path) -> dict[str, Any]:
    with Receiver() as receiver:
        config = _community(folder, receiver)
        seconds, sent = _send_all(config, SENT, build_channels(config.channels))
        bare = _bare_posts(receiver, sent)
        if len(receiver.requests) != 2 * sent:
            raise RuntimeError(f"the receiver got {len(receiver.requests)} requests, "
                               f"expected {2 * sent}")
    per_notice_ms = seconds / sent * 1000
    bare_ms = summary_ms(bare)
    return {"sent": sent, "worker_ms_per_notice": round(per_notice_ms, 3),
            "notices_per_s": round(sent / seconds, 1), "bare_post_p50_ms": bare_ms["p50_ms"],
            "bare_post_mean_ms": round(sum(bare) / len(bare) * 1000, 3)}


def _store_share(folder: Path, waiting: int) -> dict[str, Any]:
    with Receiver() as receiver:
        config = _community(folder, receiver)
    seconds, sent = _send_all(config, waiting, {item.id: Nothing() for item in config.channels})
    return {"waiting": waiting, "sent": sent, "ms_per_notice": round(seconds / sent * 1000, 3)}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        http = _through_the_worker(root / "http")
        few = _store_share(root / "few", 500)
        many = _store_share(root / "many", 5000)
    rows = [
        {"what": f"worker: {http['sent']} SMS notices over HTTP (render + lease + POST + mark)",
         "ms_per_notice": http["worker_ms_per_notice"],
         "notices_per_s": http["notices_per_s"]},
        {"what": f"bare urllib POSTs to the same receiver ({http['sent']})",
         "ms_per_notice": http["bare_post_mean_ms"]},
        {"what": f"worker, a channel that does nothing (claim, render, mark), "
                 f"{few['waiting']} waiting",
         "ms_per_notice": few["ms_per_notice"]},
        {"what": f"worker, a channel that does nothing (claim, render, mark), "
                 f"{many['waiting']} waiting",
         "ms_per_notice": many["ms_per_notice"]},
    ]
    ratios = [
        {"what": "worker / bare POST per notice",
         "ratio": round(http["worker_ms_per_notice"] / http["bare_post_mean_ms"], 2),
         "goal": None, "ok": True},
        {"what": "store share, 5000 / 500 waiting",
         "ratio": round(many["ms_per_notice"] / few["ms_per_notice"], 2), "goal": None,
         "ok": True},
    ]
    return {"title": "notices: the outbox worker per notice (SMS webhook on 127.0.0.1)",
            "rows": rows, "ratios": ratios, "http": http, "store_share": [few, many]}
