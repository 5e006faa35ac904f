"""The compound's centre: the PostgreSQL that every gate of a compound shares (issue 21).

Only this package (and the composition roots that wire it: ``kiosk.app``, ``web.centre``)
imports psycopg; a gate runs without it (the import-linter contract in pyproject.toml says
so). Its parts: ``db`` (connecting, the migrations' ledger), ``gates`` (registering a gate,
its credential), ``intake`` (a gate's batch of records applied once, with its tracking row),
``commands`` (decisions taken here for a gate, numbered under the gate's row lock),
``lists`` (the household list and the observation list, applied here and sent down),
``store`` (the unit of work of the centre's own accounts, for the staff site), and the
read side beside ``kiosk.queries`` with its names and shapes: ``queries`` (the compound's
shelf, its counts, the sync's alarms), ``follow`` (search, a parcel's timeline, exceptions,
overdue parcels), ``visits`` (the door visits: a household's tasks at every gate as one).

The rules the centre enforces are written in the README ("Several gates, one compound"), and
where each is enforced.
"""
