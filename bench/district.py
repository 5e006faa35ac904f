"""``python -m bench district``: a district's gates synced into one PostgreSQL, at a REDUCED scale.

The issue's scale is 200 compounds x 2 gates x 7 days. This run is ``COMPOUNDS`` x 2 gates x
``DAYS`` days (20 x 2 x 1 unless ``SHELF_BENCH_COMPOUNDS`` and ``SHELF_BENCH_DAYS`` say more),
on this machine:

1. One gate's lockdown days are made through the real services on a real SQLite store, each
   day 300 check-ins, pickups by code, door tasks and deliveries, observation changes. Every
   gate of the district starts from a copy of that store (each its own file, config, token).
   The dashboard and the counts are read on the last day, at 22:30 in Shanghai.
2. **Sync**: each gate runs the product's own ``kiosk.sync.gate.sync_once`` over HTTP (its
   ``HttpLink``) to the centre's site (`shelf web --centre`, its own process), which
   applies each batch in one transaction (``kiosk.centre.intake``); ``SHELF_BENCH_SYNCING``
   gates at once (4 unless set). Records per second over the whole district, wall clock.
3. **Bare upsert**: the same rows (as they stand in the centre's ``sync_records`` and mirrors)
   written into a second database of the same schema by psycopg ``executemany`` ``INSERT ...
   ON CONFLICT DO NOTHING``, 500 rows a transaction. The ratio is the sync's overhead.
4. **Dashboard**: ``district_now`` (what ``/district`` computes) by one staff member alone,
   then by 20 staff at once, each on its own connection, for a few seconds, uncached: p50 and
   p95; ``GET /district/rows`` as district.js polls it, 20 signed-in staff over HTTP at once
   (a poll that finds nothing new reads ``district_stamp`` and answers from the table already
   made); and the same 20 while the gates check parcels in and sync one after another, so
   nearly every poll finds the table changed (the site makes it one reading at a time and
   shares it: ``web.centre.district.board``).
5. **Counts**: ``district_counts`` of the day: counted afresh for every gate (nothing kept);
   its first reading (every gate counted and kept, as when every gate sent records since the
   last); after 4 gates checked a parcel in and synced (those 4 counted again); with nothing
   sent since (all kept); medians.
6. **Size**: the database's size per compound-day (``pg_database_size``).

The PostgreSQL is a throwaway cluster made like the tests' (``tests/pg.py``: fsync off).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.community import ADMIN_PASSWORD, CHEAP_HASHER, sample_community
from bench.pg import make_cluster, remove_cluster
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.observation import set_observation
from kiosk.services import Rules, act_on_payload, pick_up
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import deliver

COMPOUNDS = int(os.environ.get("SHELF_BENCH_COMPOUNDS", "20"))
DAYS = int(os.environ.get("SHELF_BENCH_DAYS", "1"))
GATES = ("north", "south")
PARCELS = 300
STAFF = 20
# Gates syncing at once (a district's gates are machines of their own, each syncing on its
# own timer): the centre's site serves them on its threads, as it would.
SYNCING = int(os.environ.get("SHELF_BENCH_SYNCING", "4"))
POLL_SECONDS = 5.0
BATCH = 500
GOAL_RATIO = 3.0  # the product's sync within 3x of the bare upsert (issue 22)
DAY = datetime(2026, 11, 29, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai, the first day
LAST = DAY + timedelta(days=DAYS - 1)  # the day the dashboard and the counts are read


def _gate_day(directory: Path) -> Path:
    """A gate's ``DAYS`` lockdown days through the real services: the store, checkpointed
    into one file. Returns the community folder."""
    config = sample_community(directory, real_hash=False)
    conn = open_store(config)
    rules = Rules.from_config(config)
    uow = SqliteUnitOfWork(conn)
    households = [str(h.id) for h in uow.households.all()]
    observed = {h for h in households if uow.households.get(HouseholdId.parse(h))
                .under_observation}
    rng = random.Random(22)
    for day in range(DAYS):
        clock = ManualClock(DAY + timedelta(days=day))
        for i in range(PARCELS):
            clock.advance(rng.uniform(60, 150))
            household = rng.choice(households)
            label = make_label(config.label_secret, HouseholdId.parse(household),
                               f"SF{day:02d}{i:06d}")
            act_on_payload(label.encode(), uow, rules, clock)
            if i % 3 == 2:  # residents come down for what waits
                for (code,) in conn.execute("SELECT code FROM pickup_codes WHERE used_at IS"
                                            " NULL ORDER BY household_id LIMIT 2").fetchall():
                    pick_up(code, uow, rules, clock)
            if i % 25 == 24:  # a door round: every open task delivered; the list changes
                for task in conn.execute("SELECT id, household_id FROM door_tasks"
                                         " WHERE status = 'open'").fetchall():
                    deliver(task["id"], task["household_id"], uow, rules, clock,
                            actor="zhang@web")
                flip = rng.choice(households)
                set_observation(flip, flip not in observed, uow, rules, clock, actor="list")
                observed ^= {flip}
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return directory


def _gate_folder(template: Path, folder: Path, community: str, gate: str, url: str,
                 token: str) -> Any:
    shutil.copytree(template, folder)
    path = folder / "config.toml"
    text = path.read_text(encoding="utf-8").replace(
        "[community]\n", f'[community]\nid = "{community}"\n', 1)
    path.write_text(text + f'\n[gate]\nid = "{gate}"\n\n[centre]\nurl = "{url}"\n'
                    f'token = "{token}"\n', encoding="utf-8")
    return load_config(path)


def _centre(template: Path, folder: Path, database: str) -> Path:
    """The centre's config (the sample's community, teams and site, plus its database)."""
    shutil.copytree(template, folder)
    path = folder / "config.toml"
    text = path.read_text(encoding="utf-8").replace(
        "[community]\n", '[community]\nid = "c000"\n', 1)
    path.write_text(text + f'\n[centre]\ndatabase = "{database}"\n', encoding="utf-8")
    return path


def _serve(config: Path) -> tuple[str, subprocess.Popen]:
    """`shelf web --centre` as its own process (waitress, as deployed): its base URL."""
    import urllib.request

    from kiosk.app.sim.mailcatcher import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kiosk.app", "web", "--centre", "--port",
                               str(port), "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
            return base, server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("shelf web --centre did not start") from None
            time.sleep(0.2)


def _bare_upsert(source: str, target: str) -> tuple[int, float]:
    """The centre's rows copied by plain batched upserts into an empty centre: (rows, s of
    writing). Read a slice at a time (a week of a district does not fit in memory twice);
    only the writes are timed."""
    from kiosk.centre.db import connect

    tables = ("sync_records", "parcels", "door_tasks", "door_task_parcels", "events")
    with connect(source) as src, connect(target) as dst:
        for table in ("communities", "gates", "gate_epochs"):
            found = src.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 (ours)
            columns = list(found[0])
            with dst.transaction(), dst.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                f"({', '.join(['%s'] * len(columns))})",
                                [tuple(_adapt(r[c]) for c in columns) for r in found])
        writing, count = 0.0, 0
        for table in tables:
            with src.transaction(), src.cursor(name=f"bare_{table}") as rows:
                rows.execute(f"SELECT * FROM {table}")  # noqa: S608 (ours)
                while found := rows.fetchmany(BATCH * 20):
                    columns = list(found[0])
                    values = [tuple(_adapt(r[c]) for c in columns) for r in found]
                    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                           f"({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING")
                    started = time.perf_counter()
                    for at in range(0, len(values), BATCH):
                        with dst.transaction(), dst.cursor() as cur:
                            cur.executemany(sql, values[at:at + BATCH])
                    writing += time.perf_counter() - started
                    count += len(values)
        return count, writing


def _adapt(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value) if isinstance(value, dict | list) else value


def _timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _polls(url: str, fresh_s: int) -> list[float]:
    """20 staff polling the dashboard's query at once, each on its own connection."""
    from kiosk.centre.db import connect
    from kiosk.centre.district import district_now

    times: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + POLL_SECONDS

    def staff() -> None:
        with connect(url, migrate_schema=False) as conn:
            while time.monotonic() < stop:
                started = time.perf_counter()
                district_now(conn, LAST + timedelta(hours=14), fresh_escalate_s=fresh_s)
                with lock:
                    times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=staff) for _ in range(STAFF)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def _signed_in(base: str, username: str) -> Any:
    """A urllib opener with its own cookies, signed in at the centre's site."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(f"{base}/login", timeout=60).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    opener.open(f"{base}/login", urllib.parse.urlencode(
        {"csrf_token": token, "username": username, "password": ADMIN_PASSWORD}).encode(),
        timeout=60).read()
    return opener


def _route_polls(base: str) -> tuple[list[float], list[float]]:
    """``/district/rows?since=VERSION`` over HTTP as district.js polls it: one client alone
    (what a poll costs), then 20 staff at once (sorted times of each)."""
    import json

    times: list[float] = []
    lock = threading.Lock()
    openers = [_signed_in(base, "office") for _ in range(STAFF)]
    first = json.loads(openers[0].open(f"{base}/district/rows", timeout=60).read())
    alone = []
    for _ in range(50):
        started = time.perf_counter()
        openers[0].open(f"{base}/district/rows?since={first['version']}", timeout=60).read()
        alone.append(time.perf_counter() - started)
    stop = time.monotonic() + POLL_SECONDS

    def staff(opener: Any) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            opener.open(f"{base}/district/rows?since={first['version']}", timeout=60).read()
            with lock:
                times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=staff, args=(o,)) for o in openers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(alone), sorted(times)


def _check_in_one(config: Any, clock: ManualClock, ref: str) -> None:
    """One more parcel checked in at a gate, through the real services (its next sync sends
    it, and its kept day at the centre is dropped)."""
    conn = open_store(config)
    try:
        household = conn.execute("SELECT id FROM households ORDER BY id LIMIT 1").fetchone()[0]
        label = make_label(config.label_secret, HouseholdId.parse(household), ref)
        act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(config), clock)
    finally:
        conn.close()


def _afresh_polls(base: str, gates: list[Any], clock: ManualClock,
                  sync: Any) -> tuple[list[float], int]:
    """``/district/rows`` as district.js polls it (``since`` its last version), 20 staff at
    once, while the gates check parcels in and sync one after another: nearly every poll finds
    the table changed and made afresh. Sorted times, and how many gates synced meanwhile."""
    import json

    times: list[float] = []
    lock = threading.Lock()
    openers = [_signed_in(base, "office") for _ in range(STAFF)]
    stop = time.monotonic() + POLL_SECONDS
    synced = 0

    def gates_at_work() -> None:
        nonlocal synced
        while time.monotonic() < stop:
            config = gates[synced % len(gates)]
            _check_in_one(config, clock, f"AF{synced:08d}")
            sync(config)
            synced += 1

    def staff(opener: Any) -> None:
        version = ""
        while time.monotonic() < stop:
            started = time.perf_counter()
            body = json.loads(opener.open(f"{base}/district/rows?since={version}",
                                          timeout=60).read())
            with lock:
                times.append(time.perf_counter() - started)
            version = body["version"]

    threads = [threading.Thread(target=gates_at_work),
               *(threading.Thread(target=staff, args=(o,)) for o in openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(times), synced


def _today_counts(pg: Any, gates: list[Any], clock: ManualClock, sync: Any,
                  zone: Any) -> dict[str, list[float]]:
    """A day's district counts, each reading timed: ``live`` (every gate counted afresh,
    nothing kept); ``first`` (the day never read: every gate counted and kept, as when every
    gate sent records since the last reading: their kept days are dropped here as their
    batches drop them); ``few`` (after 4 gates checked a parcel in and synced, over HTTP);
    ``none`` (nothing sent since)."""
    from kiosk.centre.district import district_counts

    day, rng = LAST.date(), random.Random(2304)
    taken: dict[str, list[float]] = {"live": [], "first": [], "few": [], "none": []}
    for _ in range(3):
        taken["live"].append(_timed(lambda: district_counts(pg, day, zone, live=True)))
        pg.execute("DELETE FROM day_counts WHERE day = %s", (day,))
        taken["first"].append(_timed(lambda: district_counts(pg, day, zone)))
    for n in range(5):
        for config in rng.sample(gates, 4):
            _check_in_one(config, clock, f"LT{n:08d}")
            sync(config)
        taken["few"].append(_timed(lambda: district_counts(pg, day, zone)))
    taken["none"] = [_timed(lambda: district_counts(pg, day, zone)) for _ in range(5)]
    assert district_counts(pg, day, zone) == district_counts(pg, day, zone, live=True)
    return taken


def run() -> dict[str, Any]:
    from kiosk.centre.db import connect
    from kiosk.centre.district import district_counts, district_now
    from kiosk.centre.district_staff import add_district_account
    from kiosk.centre.gates import add_gate
    from kiosk.passwords import hash_password
    from kiosk.sync.gate import sync_once
    from kiosk.sync.link import HttpLink

    load_before = os.getloadavg()
    cluster = make_cluster()  # the tests' cluster (fsync off): sync and bare upsert alike
    work = Path(tempfile.mkdtemp(prefix="shelf-bench-district-"))
    try:
        with connect(cluster.url(), migrate_schema=False) as admin:
            admin.execute("CREATE DATABASE district")
            admin.execute("CREATE DATABASE bare")
        url, bare = cluster.url("district"), cluster.url("bare")
        connect(bare).close()  # migrated: the same schema
        made = time.perf_counter()
        template = _gate_day(work / "template")
        day_s = time.perf_counter() - made
        centre = _centre(template, work / "centre", url)
        base, server = _serve(centre)
        gates = []
        with connect(url) as pg:
            for c in range(COMPOUNDS):
                community = f"c{c:03d}"
                for gate in GATES:
                    new = add_gate(pg, community, gate, DAY, actor="bench")
                    gates.append(_gate_folder(template, work / f"{community}-{gate}",
                                              community, gate, base, new.token))
        clock = ManualClock(LAST + timedelta(hours=14))

        def sync(config: Any) -> None:
            conn = open_store(config)
            try:
                report = sync_once(conn, config, HttpLink(base, config.centre.token, 60.0),
                                   clock)
                assert report.centre == "reachable" and report.pending == 0, report
            finally:
                conn.close()

        started = time.perf_counter()
        with ThreadPoolExecutor(SYNCING) as syncing:
            list(syncing.map(sync, gates))
        sync_s = time.perf_counter() - started
        print(f"district: {len(gates)} gates x {DAYS} day(s) synced in {sync_s:.1f} s",
              file=sys.stderr, flush=True)
        with connect(url) as pg:
            add_district_account(pg, DAY, username="office", name="Office",
                                 role="district_staff", actor="bench",
                                 password_hash=hash_password(ADMIN_PASSWORD,
                                                             hasher=CHEAP_HASHER))
        alone, route = _route_polls(base)
        server.terminate()
        server.wait(timeout=60)
        with connect(url) as pg:
            records = pg.execute("SELECT count(*) AS n FROM sync_records").fetchone()["n"]
            events = pg.execute("SELECT count(*) AS n FROM events").fetchone()["n"]
            size = pg.execute("SELECT pg_database_size(current_database()) AS n"
                              ).fetchone()["n"]
        bare_rows, bare_s = _bare_upsert(url, bare)
        config = load_config(centre)
        fresh_s = config.pickup.fresh_escalate_s
        with connect(url, migrate_schema=False) as pg:  # one staff member alone: its cost
            alone_now = sorted(_timed(lambda: district_now(
                pg, LAST + timedelta(hours=14), fresh_escalate_s=fresh_s)) for _ in range(20))
        polls = sorted(_polls(url, fresh_s))
        zone = config.community.timezone
        # The centre's site again, for what needs gates at work beside it: the dashboard
        # while they sync, and the day's counts as they send records.
        base, server = _serve(centre)
        afresh, synced = _afresh_polls(base, gates, clock, sync)
        with connect(url) as pg:
            today = _today_counts(pg, gates, clock, sync, zone)
            counts = district_counts(pg, LAST.date(), zone)
        server.terminate()
        server.wait(timeout=60)
        assert len(counts["compounds"]) == COMPOUNDS
        # Both write the same rows (each record, and the mirror row it makes): per record.
        sync_rate = records / sync_s
        bare_rate = records / bare_s
        p50 = statistics.median(polls) * 1000
        p95 = polls[int(len(polls) * 0.95)] * 1000
        counts_ms = statistics.median(today["few"]) * 1000
        first_ms = statistics.median(today["first"]) * 1000
        closed_ms = statistics.median(today["none"]) * 1000
        live_ms = statistics.median(today["live"]) * 1000
        afresh_p50 = statistics.median(afresh) * 1000
        afresh_p95 = afresh[int(len(afresh) * 0.95)] * 1000
        route_p50 = statistics.median(route) * 1000
        alone_p50 = statistics.median(alone) * 1000
        route_p95 = route[int(len(route) * 0.95)] * 1000
        rows = [{"what": "sync (product path, HTTP)", "records": records,
                 "rows_written": bare_rows, "seconds": sync_s, "records_per_s": sync_rate},
                {"what": "bare executemany upsert", "records": records,
                 "rows_written": bare_rows, "seconds": bare_s, "records_per_s": bare_rate},
                {"what": "dashboard query uncached, one at a time",
                 "p50_ms": statistics.median(alone_now) * 1000,
                 "p95_ms": alone_now[int(len(alone_now) * 0.95)] * 1000,
                 "polls": len(alone_now)},
                {"what": f"dashboard query uncached, {STAFF} at once", "p50_ms": p50,
                 "p95_ms": p95, "polls": len(polls)},
                {"what": "GET /district/rows, one client", "p50_ms": alone_p50,
                 "p95_ms": alone[int(len(alone) * 0.95)] * 1000, "polls": len(alone)},
                {"what": f"GET /district/rows, {STAFF} staff polling", "p50_ms": route_p50,
                 "p95_ms": route_p95, "polls": len(route)},
                {"what": f"GET /district/rows, {STAFF} staff polling while gates sync "
                         f"({synced} syncs): the table afresh", "p50_ms": afresh_p50,
                 "p95_ms": afresh_p95, "polls": len(afresh)},
                {"what": "district counts of today, 4 gates sent records since the last",
                 "median_ms": counts_ms},
                {"what": "district counts of a day, every gate counted and kept (first "
                         "reading, or every gate sent records since)", "median_ms": first_ms},
                {"what": "district counts of a day, nothing sent since (kept)",
                 "median_ms": closed_ms},
                {"what": "district counts of a day, every gate counted afresh, nothing kept",
                 "median_ms": live_ms},
                {"what": "database per compound-day", "bytes": size // (COMPOUNDS * DAYS)}]
        ratio = bare_rate / sync_rate
        full = COMPOUNDS >= 200 and DAYS >= 7
        return {
            "title": f"district ({'' if full else 'REDUCED: '}{COMPOUNDS} compounds x"
                     f" {len(GATES)} gates x {DAYS} day(s) of {PARCELS} parcels a gate"
                     f"{'' if full else ', not 200 x 2 x 7'}; {SYNCING} gates syncing at once)",
            "rows": rows,
            "ratios": [{"what": "bare upsert rows/s over sync records/s", "ratio": ratio,
                        "goal": GOAL_RATIO, "ok": ratio <= GOAL_RATIO}],
            "compounds": COMPOUNDS, "gates": COMPOUNDS * len(GATES), "days": DAYS,
            "events": events, "syncing": SYNCING,
            # The machine's load average (1, 5, 15 min) as the run began and ended.
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "gate_day_records": records // (COMPOUNDS * len(GATES) * DAYS),
            "gate_day_events": events // (COMPOUNDS * len(GATES) * DAYS),
            "gate_day_made_s": round(day_s / DAYS, 1),
            "sync_records_per_s": round(sync_rate),
            "bare_rows_per_s": round(bare_rate),
            "dashboard_polls": len(polls), "dashboard_staff": STAFF,
            "dashboard_p50_ms": round(p50, 1), "dashboard_p95_ms": round(p95, 1),
            "dashboard_alone_p50_ms": round(statistics.median(alone_now) * 1000, 1),
            "poll_p50_ms": round(route_p50, 1), "poll_p95_ms": round(route_p95, 1),
            "poll_alone_p50_ms": round(alone_p50, 1),
            "poll_afresh_p50_ms": round(afresh_p50, 1),
            "poll_afresh_p95_ms": round(afresh_p95, 1),
            "poll_afresh_syncs": synced,
            # Today's counts as the office reads them: 4 of the district's gates sent records
            # since the last reading (their kept days dropped, counted again).
            "counts_day_ms": round(counts_ms, 1),
            # A day's first reading (or after every gate sent records): counted and kept.
            "counts_closed_day_first_ms": round(first_ms, 1),
            "counts_day_all_changed_ms": round(first_ms, 1),
            # Nothing sent since the last reading: every gate's kept day (today's or closed).
            "counts_closed_day_ms": round(closed_ms, 1),
            "counts_day_unchanged_ms": round(closed_ms, 1),
            # Every gate counted afresh in one snapshot, nothing kept (what today cost before).
            "counts_day_live_ms": round(live_ms, 1),
            "db_bytes_per_compound_day": size // (COMPOUNDS * DAYS),
        }
    finally:
        remove_cluster(cluster)
        shutil.rmtree(work, ignore_errors=True)
