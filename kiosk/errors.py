"""The errors the shelf raises: a small tree, each with the code that tools and pages show."""

from __future__ import annotations


class ShelfError(Exception):
    """Base class for everything the shelf refuses on purpose.

    ``suggestions`` are household ids the person may have meant (``24-2403`` for a typed
    ``24-2304``): screens offer them to choose from. ``retry_after_s`` says how long to wait
    before trying again, where waiting helps (a locked keypad).
    """

    code = "error"
    recorded = True  # kept as a ``scan_refused`` event (kiosk.outcome.guarded); False: a question

    def __init__(self, *args: object, suggestions: tuple[str, ...] = (),
                 retry_after_s: int | None = None) -> None:
        super().__init__(*args)
        self.suggestions = tuple(suggestions)
        self.retry_after_s = retry_after_s


class ConfigError(ShelfError):
    """The configuration file is missing, unreadable or has a mistake."""

    code = "config"


class LabelError(ShelfError):
    """A scanned payload is not something the shelf can act on."""

    code = "unreadable"


class GarbageLabel(LabelError):
    """The payload is not one of the shelf's formats (or is too long, or not ASCII)."""

    code = "garbage"


class ImageUnreadable(ShelfError):
    """An image file given to the scanner is missing or is not an image."""

    code = "unreadable_image"


class ForgedLabel(LabelError):
    """The payload has the shelf's format but its signature does not match."""

    code = "forged"


class RoomRefused(ShelfError):
    """A refusal of the household someone named: a room typed, a label's, a list's.

    ``given`` is that household whole (``24-2340``), for the person who named it: the command
    line and the pages say it as typed, beside the ``suggestions`` to choose from; the message
    masks it, since it is logged. When what was typed is no household at all, ``given`` is None
    and ``typed`` is the text (``HouseholdId.parse``).
    """

    def __init__(self, message: str, *, given: str | None = None, typed: str | None = None,
                 suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message, suggestions=suggestions)
        self.given, self.typed = given, typed


class UnknownHousehold(RoomRefused):
    """The household named by a label or a typed room is not in the household list."""

    code = "unknown_household"


class ConfusableRoom(RoomRefused):
    """The typed room exists, but others in its building are easy to mix up with it."""

    code = "confusable_room"


class PhoneMismatch(RoomRefused):
    """The waybill's phone digits belong to a household easily confused with the typed one."""

    code = "phone_mismatch"


class InvalidPhoneTail(ShelfError):
    """What was typed as the phone's last digits is not four digits."""

    code = "bad_phone_tail"


class InvalidCarrierCode(ShelfError):
    """A tracking number that cannot be a carrier's code (6-40 letters, digits or '-')."""

    code = "bad_carrier_code"


class CodeTaken(ShelfError):
    """A tracking number announced, or checked in, for another household."""

    code = "code_taken"


class OutOfScope(ShelfError):
    """A tool's token may not announce for that household, or that carrier's tracking number."""

    code = "out_of_scope"


class NotAnnounced(ShelfError):
    """No open announcement to withdraw: none for that code, or its parcel came already."""

    code = "not_announced"


class AnnouncementMismatch(ShelfError):
    """The phone on the waybill is not the announced household's: the room on it decides."""

    code = "announcement_mismatch"


class ParcelClosed(ShelfError):
    """The label belongs to a parcel that has already been collected or delivered."""

    code = "already_collected"


class PickupRefused(ShelfError):
    """A pickup code does not open anything.

    ``tries_left``: for a code typed at a keypad, the wrong codes it still takes before it
    makes people wait (``kiosk.keypad``); None for a scanned pass.
    """

    code = "unknown_code"

    def __init__(self, *args: object, retry_after_s: int | None = None,
                 tries_left: int | None = None) -> None:
        super().__init__(*args, retry_after_s=retry_after_s)
        self.tries_left = tries_left


class PickupThrottled(PickupRefused):
    """Too many wrong pickup codes: the keypad waits a little before it takes the next one."""

    code = "throttled"


class RoomRequired(PickupRefused):
    """A pickup code typed alone where the keypad asks for the building-room with it.

    Nothing was checked, so nothing counts and nothing is recorded: it is a question.
    """

    code = "room_required"
    recorded = False


class PassUsed(PickupRefused):
    """A pickup QR whose code has already opened its slots: the parcels were collected."""

    code = "pass_used"


class PassOutdated(PickupRefused):
    """An old-format pickup QR whose code can no longer be told apart from a newer one."""

    code = "pass_outdated"


class NoticeError(ShelfError):
    """A notice channel could not deliver a notice (it will be retried)."""

    code = "notice"


class StoreUnavailable(ShelfError):
    """The database is locked, busy or failing right now: nothing was changed; try again."""

    code = "store_unavailable"


class StorageFull(StoreUnavailable):
    """The disk under the database is full: nothing new can be saved until space is freed."""

    code = "storage_full"


class Unexpected(ShelfError):
    """Something the shelf did not foresee went wrong; it is logged and nothing was changed."""

    code = "internal"


class NotAStore(StoreUnavailable):
    """The database file is missing, empty, damaged or not the shelf's: nothing starts on it."""

    code = "not_a_store"


class UnknownTask(ShelfError):
    """No door task has this number."""

    code = "unknown_task"


class TaskClosed(ShelfError):
    """The door task was delivered already: its parcels are at the door."""

    code = "task_closed"


class TaskCancelled(ShelfError):
    """The door task was called off (its household was released): the parcels stay on the shelf."""

    code = "task_cancelled"


class WrongDoor(ShelfError):
    """The door confirmed is not the door task's household: 2304 is not 2403.

    ``expected`` and ``given`` are the full households, for the staff member at the door (who is
    signed in); the message masks them, since it is logged.
    """

    code = "wrong_door"

    def __init__(self, message: str, *, expected: str, given: str) -> None:
        super().__init__(message)
        self.expected, self.given = expected, given


class UnknownParcel(ShelfError):
    """No parcel has this number."""

    code = "unknown_parcel"


class ParcelNotWaiting(ShelfError):
    """The parcel is no longer on the shelf: collected, returned or withdrawn already."""

    code = "not_waiting"


class ReasonMissing(ShelfError):
    """A staff action needs a reason in words: it is kept with the parcel's record."""

    code = "reason_missing"


class IdNotChecked(ShelfError):
    """Handing a parcel out without its code needs the collector's ID checked first."""

    code = "id_not_checked"


class UnknownSlot(ShelfError):
    """No slot of the shelf has this code (or it was removed from the configuration)."""

    code = "unknown_slot"


class SlotFull(ShelfError):
    """The slot holds as many parcels as it can: choose another."""

    code = "slot_full"


class SameSlot(ShelfError):
    """The parcel is in that slot already."""

    code = "same_slot"


class RoomSettled(ShelfError):
    """The parcel's room needs no confirming: the waybill's phone digits settled it."""

    code = "room_settled"


class InvalidContact(ShelfError):
    """A household's name, phone or e-mail as typed cannot be stored; nothing was changed.

    ``shown`` is the value that was refused, masked (it is a resident's): pages word the
    refusal from ``code`` and ``shown``.
    """

    code = "bad_contact"

    def __init__(self, message: str, *, shown: str = "") -> None:
        super().__init__(message)
        self.shown = shown


class InvalidPhone(InvalidContact):
    """A phone number that is not 7 to 15 digits (spaces, '-', brackets and a leading '+' aside)."""

    code = "bad_phone"


class InvalidEmail(InvalidContact):
    """An e-mail address that is not one."""

    code = "bad_email"


class InvalidName(InvalidContact):
    """A name too long, or with line breaks or other control characters."""

    code = "bad_name"


class HouseholdChanged(ShelfError):
    """The household was changed by someone else since the form was shown: nothing was stored."""

    code = "household_changed"
