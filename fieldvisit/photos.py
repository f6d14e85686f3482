"""Photos of a visit: re-encoded on the server, at most three a visit, stored with the data.

A phone shrinks a photo before it sends it; the server still decodes and re-encodes every
file, so what is stored is a plain JPEG of bounded size with no EXIF (no GPS position, no
camera serial), whatever was sent. Pillow is imported here only, when a photo arrives.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from .models import User, Visit
from .storage import PHOTO_ID_RE, Store
from .visits import may_record, needs_of

MAX_PHOTOS = 3
MAX_BYTES = 2 * 1024 * 1024  # phones send ~300 KB; anything over this was not shrunk
MAX_SIDE = 1600
THUMB_SIDE = 240
QUALITY = 82
THUMB_QUALITY = 70
# Decompression bombs: a 2 MB file may still claim a huge canvas.
MAX_PIXELS = 40_000_000


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


def reencode(data: bytes) -> Encoded:
    """Decode any image Pillow reads, turn it upright, and save it as JPEG without
    metadata (max side 1600 px) plus a thumbnail (240 px). Raises PhotoError."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise PhotoError(_("照片太大（最大 2 MB），请重新拍摄或选择较小的照片"), 413)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise PhotoError(_("照片尺寸太大"), 413)
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise PhotoError(_("这不是照片文件，只能上传图片")) from None
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    full = io.BytesIO()
    # No exif= argument: Pillow then writes none, so no GPS or camera data survives.
    upright.save(full, "JPEG", quality=QUALITY, optimize=True)
    upright.thumbnail((THUMB_SIDE, THUMB_SIDE))
    thumb = io.BytesIO()
    upright.save(thumb, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return Encoded(full.getvalue(), thumb.getvalue())


def find_visit(store: Store, visit_id: str, months: list[str] | None = None) -> Visit | None:
    """A stored visit by id alone, newest months first (the API addresses photos by the
    visit's id; a visit usually gets its photos within minutes of being stored)."""
    if not PHOTO_ID_RE.match(visit_id):
        return None
    for month in months if months is not None else reversed(store.months()):
        for visit in store.visits(month):
            if visit.id == visit_id:
                return visit
    return None


def add_photo(store: Store, visit: Visit, photo_id: str, data: bytes, user: User) -> bool:
    """Store a photo of ``visit`` under the client's ``photo_id``. Returns False when that
    photo was already stored (a resend). Raises PhotoError."""
    household = store.household(visit.household)
    if household is None or not may_record(user, household):
        raise PhotoError(_("您不是这户的帮扶责任人，不能上传照片"), 403)
    if not PHOTO_ID_RE.match(photo_id):
        raise PhotoError(_("照片编号无效"))
    if photo_id in visit.photos:
        return False
    if len(visit.photos) >= MAX_PHOTOS:
        raise PhotoError(_("每次走访最多 %(n)d 张照片", n=MAX_PHOTOS), 409)
    encoded = reencode(data)
    store.save_photo(visit.month, visit.id, photo_id, encoded.full, encoded.thumb)

    def decide(existing: Visit | None) -> Visit | None:
        if existing is None:
            raise PhotoError(_("没有这条走访记录"), 404)
        if photo_id in existing.photos:
            return None
        if len(existing.photos) >= MAX_PHOTOS:
            raise PhotoError(_("每次走访最多 %(n)d 张照片", n=MAX_PHOTOS), 409)
        existing.photos = [*existing.photos, photo_id]
        return existing

    _stored, added = store.save_visit(visit, decide, needs_of)
    return added


def photo_file(
    store: Store, visit_id: str, photo_id: str, thumb: bool
) -> tuple[Visit | None, Path | None]:
    """The visit a photo belongs to and its file, or (None, None). The photo folders say
    which month to look in, so this does not scan years of visits."""
    visit = find_visit(store, visit_id, store.photo_months(visit_id))
    if visit is None or photo_id not in visit.photos:
        return None, None
    return visit, store.photo_path(visit.month, visit.id, photo_id, thumb)
