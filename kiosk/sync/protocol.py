"""What a gate and its centre say to each other: one exchange, JSON over HTTP(S).

A gate POSTs to ``/sync/v1`` with its bearer token::

    {"protocol": 1, "schema": 22, "community": "xujiahui-garden", "gate": "north",
     "epoch": "9f...", "parent": null, "base": 0, "holds": 812,
     "batch": {"epoch": "9f...", "records": [[seq, at, kind, data], ...]} | null,
     "commands_applied": 12, "status": {...}}

``epoch``/``parent``/``base`` say which epoch the gate writes in now and where it starts;
``holds`` is the newest seq its journal ever gave: the centre holding more of this epoch
than that means the store was copied back. The batch is one epoch's records in order.

The centre answers::

    {"protocol": 1, "applied": {"epoch": "9f...", "through": 812, "new": 500} | null,
     "rewound": {"epoch": "9f...", "from": 790} | null,
     "commands": [{"seq": 13, "kind": "deliver", "payload": {...}, "created_by": "li"}, ...]}

``applied.through``: the centre holds this epoch through that seq (a gap below the batch
makes it lower: the gate sends again from there); ``new``: how many of the batch it had not
held before (a batch sent again: 0). ``rewound.from``: the centre holds other
records of this epoch from that seq on: the gate moves its own into a new epoch.
"""

from __future__ import annotations

from kiosk.errors import ShelfError

PROTOCOL = 1
PATH = "/sync/v1"
BATCH = 500  # records per exchange
COMMANDS = 50  # commands per answer


class SyncError(ShelfError):
    """An exchange with the centre did not happen, or was refused."""

    code = "sync_failed"


class CentreUnreachable(SyncError):
    """The centre did not answer (network, DNS, TLS, timeout, a server error)."""

    code = "centre_unreachable"


class CredentialRefused(SyncError):
    """The centre does not know this gate's token (revoked, or mistyped in [centre])."""

    code = "credential_refused"


class UpgradeRequired(SyncError):
    """The gate's schema is not one the centre takes (it takes its own and the one before)."""

    code = "upgrade_required"


class JournalPruned(SyncError):
    """The centre needs records this gate no longer keeps (pruned after it acknowledged them)."""

    code = "journal_pruned"


class NotThisGate(SyncError):
    """A request names another gate or community than its token's: refused, not applied."""

    code = "not_this_gate"


def accepted_schemas(latest: int) -> tuple[int, int]:
    """The gate schemas a centre of schema ``latest`` takes: its own and the previous one."""
    return (latest - 1, latest)
