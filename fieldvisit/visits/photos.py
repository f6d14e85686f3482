"""Photos of a visit: re-encoded on the server, at most three a visit, stored with the data.

A phone shrinks a photo before it sends it; the server still decodes and re-encodes every
photo, so what is stored is a plain JPEG of bounded size with no EXIF (no GPS position, no
camera serial), whatever was sent. Only JPEG, PNG and WebP are decoded, a canvas of bounded
size, two at a time. Pillow is imported here only, when a photo arrives.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from ..access.permissions import may_add_photo, may_correct, may_record
from ..clock import now_iso
from ..models import AuditEntry, User, Visit
from ..storage import PHOTO_ID_RE, Store
from .recording import needs_of
from .validation import month_closed

if TYPE_CHECKING:
    from PIL import Image as PILImage

MAX_PHOTOS = 3
MAX_BYTES = 2 * 1024 * 1024  # phones send ~300 KB; anything over this was not shrunk
MAX_SIDE = 1600
THUMB_SIDE = 240
QUALITY = 82
THUMB_QUALITY = 70
# Decompression bombs: a 2 MB file may still claim a huge canvas (a 6300 x 6300 PNG takes
# 170 KB), so the canvas is limited, by format, from the file's header before anything is
# decoded. The phone's page shrinks photos to 1600 px before sending; only a program sends
# more. 16 MP takes a camera's own file (12 MP is 4032 x 3024; 48-50 MP phones save 12 MP
# unless told otherwise, and a full 50 MP JPEG never fits in 2 MB anyway). What one decode
# costs at the limit, measured: a JPEG, decoded at reduced scale (draft mode), ~60 MB; a
# PNG, decoded at full size (Pillow keeps 4 bytes a pixel, and an RGBA one is copied to RGB
# once), ~120 MB; a WebP needs ~15 bytes a pixel (libwebp's canvases and Pillow's copy), so
# its limit is half: a 4K screenshot (3840 x 2160) still fits.
MAX_PIXELS = 16_000_000
MAX_PIXELS_WEBP = 8_300_000
# At most this many decodes at once, whatever the number of server threads: memory stays
# bounded when many photos arrive together (a team's queued photos after a village without
# signal, or someone sending large canvases on purpose): four of the largest canvases taken,
# sent at once, raise the peak by ~300 MB (tests/test_photo_limits.py). A decode takes well
# under a second, so a request waits a little for its turn, then is told to try again (the
# phone's queue sends it again later on a 5xx answer).
DECODERS = 2
DECODE_WAIT_SECONDS = 10.0
_decoding = threading.BoundedSemaphore(DECODERS)


class PhotoError(ValueError):
    """A photo that cannot be stored; ``message`` is for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Encoded:
    full: bytes
    thumb: bytes


# The formats a camera or a phone's screenshot produce, told by their first bytes (sniff).
# Pillow is only ever given these: its other plugins include EPS/PostScript (run through
# Ghostscript, with no time limit), PDF, and decades-old formats no phone sends. HEIC is
# left out: no maintained decoder is installed (the phone's page sends JPEG anyway).
def sniff(data: bytes) -> str | None:
    """The format of a photo by its first bytes (JPEG, PNG or WEBP), or None. The file's
    name and declared type are the sender's say, so they are not looked at."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def reencode(data: bytes) -> Encoded:
    """Decode a JPEG, PNG or WebP photo, turn it upright, and save it as JPEG without
    metadata (max side 1600 px) plus a thumbnail (240 px). Raises PhotoError: 400 for any
    other file, 413 for too large a file or canvas, 503 when the server is busy decoding."""
    if len(data) > MAX_BYTES:
        raise PhotoError(_("照片太大（最大 2 MB），请重新拍摄或选择较小的照片"), 413)
    kind = sniff(data)
    if kind is None:
        raise PhotoError(_("这不是照片文件，只能上传图片"))
    if not _decoding.acquire(timeout=DECODE_WAIT_SECONDS):
        raise PhotoError(_("服务器正忙，请稍后再上传照片"), 503)
    try:
        upright = _decode(data, kind)
    finally:
        _decoding.release()
    full = io.BytesIO()
    # No exif= argument: Pillow then writes none, so no GPS or camera data survives.
    upright.save(full, "JPEG", quality=QUALITY, optimize=True)
    upright.thumbnail((THUMB_SIDE, THUMB_SIDE))
    thumb = io.BytesIO()
    upright.save(thumb, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return Encoded(full.getvalue(), thumb.getvalue())


def _decode(data: bytes, kind: str) -> PILImage.Image:
    """The photo, upright, RGB, at most MAX_SIDE px a side. Only the plugin of ``kind`` is
    tried; the full-size pixels live only inside this call."""
    from PIL import Image, ImageOps, UnidentifiedImageError, WebPImagePlugin

    assert WebPImagePlugin  # registers WEBP: Image.open loads only a few plugins itself
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size
            if width * height > (MAX_PIXELS_WEBP if kind == "WEBP" else MAX_PIXELS):
                raise PhotoError(_("照片尺寸太大"), 413)
            # A JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers the stored
            # size: asked with the size the photo shrinks to (as thumbnail() does), so a
            # long panorama is reduced too. Other formats ignore this.
            ratio = min(MAX_SIDE / width, MAX_SIDE / height, 1.0)
            image.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
            image.load()
            small: Image.Image = image
            if image.mode not in ("RGB", "L"):
                # Before shrinking: JPEG has no alpha (dropped, as it always was), a palette
                # would be resized without smoothing, and RGBA would be copied at full size
                # for the resize anyway. The full-size original is freed right away.
                small = image.convert("RGB")
                image.close()
            # Shrunk before anything else, so the copies below are small.
            small.thumbnail((MAX_SIDE, MAX_SIDE))
            upright = ImageOps.exif_transpose(small)  # the orientation tag travels in info
            return upright if upright.mode == "RGB" else upright.convert("RGB")
    except PhotoError:
        raise
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours: a header
        raise PhotoError(_("照片尺寸太大"), 413) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise PhotoError(_("这不是照片文件，只能上传图片")) from None


def find_visit(store: Store, visit_id: str, months: list[str] | None = None) -> Visit | None:
    """A stored visit by id alone, newest months first (the API addresses photos by the
    visit's id; a visit usually gets its photos within minutes of being stored)."""
    if not PHOTO_ID_RE.match(visit_id):
        return None
    if months is None:
        return store.visit_by_id(visit_id)  # the index knows its month, whatever its date
    for month in months:
        for visit in store.visits(month):
            if visit.id == visit_id:
                return visit
    return None


def add_photo(
    store: Store, visit: Visit, photo_id: str, data: bytes, user: User, today: date | None = None
) -> bool:
    """Store a photo of ``visit`` under the client's ``photo_id``, with its audit entry.
    Returns False when that photo was already stored (a resend). Raises PhotoError."""
    household = store.household(visit.household)
    if household is None or not may_record(user, household):
        raise PhotoError(_("您不是这户的帮扶责任人，不能上传照片"), 403)
    if not PHOTO_ID_RE.match(photo_id):
        raise PhotoError(_("照片编号无效"))
    if photo_id in visit.photos:
        return False  # stored already: a resend after the window closed is still answered
    if (closed := month_closed(store, visit.month)) is not None:
        raise PhotoError(closed, 409)  # before the photo is decoded
    if not may_add_photo(user, household, visit, today or date.today()):
        raise PhotoError(_("这条走访记录已过了可以修改的时间，不能再添加照片"), 403)
    if len(visit.photos) >= MAX_PHOTOS:
        raise PhotoError(_("每次走访最多 %(n)d 张照片", n=MAX_PHOTOS), 409)
    encoded = reencode(data)
    store.photos.save(visit.month, visit.id, photo_id, encoded.full, encoded.thumb)
    before: list[str] = []

    def decide(existing: Visit | None) -> Visit | None:
        nonlocal before
        if existing is None:
            raise PhotoError(_("没有这条走访记录"), 404)
        if photo_id in existing.photos:
            return None
        if len(existing.photos) >= MAX_PHOTOS:
            raise PhotoError(_("每次走访最多 %(n)d 张照片", n=MAX_PHOTOS), 409)
        before = existing.photos
        existing.photos = [*existing.photos, photo_id]
        return existing

    def audit(record: Visit) -> AuditEntry:
        # Written under the file's lock right after the save; the new id is the one added.
        return AuditEntry(
            now_iso(),
            user.phone,
            "visit.photo",
            record.id,
            {"photos": before},
            {"photos": record.photos},
        )

    _stored, added = store.save_visit(visit, decide, needs_of, audit=audit)
    return added


def remove_photo(
    store: Store, visit: Visit, photo_id: str, user: User, today: date | None = None
) -> bool:
    """Take a photo off ``visit`` and delete its files, with its audit entry. A removal
    changes the visit, so it follows the rule for correcting one (``may_correct``: helpers
    their own visits within the visit's month, the office any time, supervisors never).
    Returns False when the visit no longer lists the photo (a repeated tap). Raises
    PhotoError."""
    if not may_correct(user, visit, today or date.today()):
        raise PhotoError(_("只能在当月修改自己的走访记录"), 403)
    if not PHOTO_ID_RE.match(photo_id):
        raise PhotoError(_("照片编号无效"))
    if (closed := month_closed(store, visit.month)) is not None:
        raise PhotoError(closed, 409)
    before: list[str] = []

    def decide(existing: Visit | None) -> Visit | None:
        nonlocal before
        if existing is None:
            raise PhotoError(_("没有这条走访记录"), 404)
        if photo_id not in existing.photos:
            return None
        before = existing.photos
        existing.photos = [p for p in existing.photos if p != photo_id]
        return existing

    def audit(record: Visit) -> AuditEntry:
        # Under the file's lock right after the save, as for an added photo; the removed
        # photo's id is named, so the log says which one went.
        return AuditEntry(
            now_iso(),
            user.phone,
            "visit.photo_remove",
            record.id,
            {"photos": before, "photo": photo_id},
            {"photos": record.photos},
        )

    _stored, removed = store.save_visit(visit, decide, needs_of, audit=audit)
    if removed:
        # Only once the visit no longer lists it: a crash before this leaves a file nobody
        # is shown, never a listed photo without its file.
        store.photos.remove(visit.month, visit.id, photo_id)
    return removed


def photo_file(
    store: Store, visit_id: str, photo_id: str, thumb: bool
) -> tuple[Visit | None, bytes | None]:
    """The visit a photo belongs to and its bytes, or (None, None). The photo folders say
    which month to look in, so this does not scan years of visits."""
    visit = find_visit(store, visit_id, store.photos.months(visit_id))
    if visit is None or photo_id not in visit.photos:
        return None, None
    return visit, store.photos.read(visit.month, visit.id, photo_id, thumb)
