"""One owner for every fact: what a gate of a compound must not change itself.

The compound's centre owns the household list, the observation register and the staff
accounts; a gate of a compound (a config with [gate] and [centre] url) gets them as commands
(``kiosk.sync.commands``) and refuses to change them itself: from `shelf households import`,
`shelf observation apply`, `shelf users`, and the same forms of its staff site. A gate on its
own (no [centre]) owns them all, as before.
"""

from __future__ import annotations

from kiosk.config import Config
from kiosk.errors import ShelfError

CENTRE_OWNS = {"households": "the household list", "observation": "the observation register",
               "staff": "the staff accounts"}


class OwnedByCentre(ShelfError):
    """A gate of a compound was asked to change what its centre owns."""

    code = "owned_by_centre"


def refuse_at_a_gate(config: Config, what: str) -> None:
    """Refuse (OwnedByCentre) when ``config`` is a gate of a compound: ``what`` is the
    centre's (a key of ``CENTRE_OWNS``)."""
    if config.gate is None:
        return
    raise OwnedByCentre(f"{CENTRE_OWNS[what]} of this compound is its centre's: change it "
                        f"there (shelf centre ... on the centre, or its site); the "
                        f"{config.gate.id} gate gets it from there")
