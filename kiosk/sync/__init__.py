"""A gate of a compound and its centre: what moves between them, and how (issue 21).

The rules (README "Several gates, one compound"), and where each is enforced:

- **One owner per fact.** A gate owns custody: its parcels, door tasks and their events
  (``kiosk.store.journal`` journals them, the centre only mirrors them:
  ``kiosk.centre.intake``). The centre owns the household list, the observation register and
  staff accounts: a gate of a compound refuses to change them itself (``kiosk.sync.owner``)
  and applies what the centre decided (``kiosk.sync.commands``).
- **A decision away from its owner is a command.** A door delivery confirmed at the centre,
  a parcel handed out from its site, a list applied there: a command to the gate, numbered
  per gate under the gate's row lock (``kiosk.centre.commands``), applied in order through
  the same use case as at the gate, its number recorded in the same SQLite transaction; a
  refusal comes back as an event like any other.
- **Exactly once, on the engines' own guarantees.** The journal is written by triggers in the
  transaction of each change; records move in batches keyed by (gate, epoch, seq); the centre
  applies a batch only where the last one ended, in one transaction with its tracking row,
  and answers with what it holds; a record sent again is compared, never silently skipped.
- **A gate never waits on the network.** The sync runs on its own (``shelf sync``, a process
  of its own: the kiosk's has no network, README says why); check-in and pickup only ever
  write SQLite.

``protocol`` holds the messages' shapes, ``link`` the HTTP transport, ``gate`` the loop.
"""
