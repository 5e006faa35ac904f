"""What the site takes in a request body, in one place: a form, a list, a door photo.

Each route takes what it needs (``web.auth.upload_limit``), every other form ``FORM_BYTES``
(Flask's ``MAX_CONTENT_LENGTH``); ``LARGEST_UPLOAD_BYTES``, the largest of them, is what the
server itself should refuse past before the site reads a byte (waitress's
``max_request_body_size``). A list larger than any real one (``kiosk.sheets.ListTooLarge``) is
refused at its upload, not kept, in words that name the limit.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, url_for

from kiosk.sheets import ListTooLarge
from web.i18n import t

FORM_BYTES = 64 * 1024  # no form needs more; a bigger body is refused unread (413)
# A whole compound's household list (10,000 flats) is ~600 KB of CSV, its observation list less;
# an XLSX list is tens of KB.
LIST_UPLOAD_BYTES = 1024 * 1024
# A phone's JPEG is 3-5 MB when the page cannot shrink it first.
PHOTO_UPLOAD_BYTES = 8 * 1024 * 1024
LARGEST_UPLOAD_BYTES = max(FORM_BYTES, LIST_UPLOAD_BYTES, PHOTO_UPLOAD_BYTES)


def too_large(exc: ListTooLarge, name: str) -> str:
    """A list past a limit, in the reader's words, naming the limit."""
    return t(f"list_too_large_{exc.kind}", name=name, limit=f"{exc.limit:,}")


def list_body_too_large(form: str) -> Any:
    """A list's upload over ``LIST_UPLOAD_BYTES`` (refused unread): said on its form's page."""
    flash(t("upload_too_large", mb=LIST_UPLOAD_BYTES // (1024 * 1024)), "error")
    return redirect(url_for(form))


def deleted_text() -> str:
    """An upload whose bytes were deleted after ``[web] uploads_days``, in words."""
    return t("upload_deleted", days=current_app.config["WEB"].uploads_days)


def deleted(form: str) -> Any:
    """An upload whose bytes were deleted: said on its form's page."""
    flash(deleted_text(), "error")
    return redirect(url_for(form))
