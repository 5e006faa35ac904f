"""What the site says of the lists uploaded to it: one larger than any real one, refused at its
upload and not kept (``kiosk.sheets.ListTooLarge``, in words that name the limit), a body over
``LIST_UPLOAD_BYTES`` (``web.serving``, where every body size is named), an upload whose bytes
were deleted after ``[web] uploads_days``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, url_for

from kiosk.sheets import ListTooLarge
from web.i18n import t
from web.serving import LIST_UPLOAD_BYTES


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
