"""Photos of visits: data/photos/YYYY-MM/<visit id>/<photo id>.jpg and .thumb.jpg."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .durable import atomic_write_bytes, fsync_dir
from .journal import StorageError
from .paths import _MONTH_RE, PHOTO_ID_RE, check_month


class Photos:
    """The photos of one data folder (``Store.photos``). The caller passes ids it has
    checked against PHOTO_ID_RE; the file names are made here, never from a name a client
    sent, and the month is the visit's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # <data>/photos

    def _visit_folder(self, month: str, visit_id: str) -> Path:
        if not PHOTO_ID_RE.match(visit_id):
            raise StorageError(f"bad visit id {visit_id!r}")
        return self.folder / check_month(month) / visit_id

    def save(self, month: str, visit_id: str, photo_id: str, full: bytes, thumb: bytes) -> None:
        """Store a photo and its thumbnail durably (the thumbnail first: a photo listed in
        a visit always has both)."""
        if not PHOTO_ID_RE.match(photo_id):
            raise StorageError(f"bad photo id {photo_id!r}")
        folder = self._visit_folder(month, visit_id)
        atomic_write_bytes(folder / f"{photo_id}.thumb.jpg", thumb)
        atomic_write_bytes(folder / f"{photo_id}.jpg", full)

    def remove(self, month: str, visit_id: str, photo_id: str) -> None:
        """Delete a photo and its thumbnail durably (the full photo first, the reverse of
        ``save``). Called once the visit no longer lists the photo: a crash in between
        leaves an unlisted file, never a listed photo without its file. A file already gone
        is no error (a repeated removal)."""
        if not PHOTO_ID_RE.match(photo_id):
            raise StorageError(f"bad photo id {photo_id!r}")
        folder = self._visit_folder(month, visit_id)
        for name in (f"{photo_id}.jpg", f"{photo_id}.thumb.jpg"):
            (folder / name).unlink(missing_ok=True)
        if folder.is_dir():
            fsync_dir(folder)

    def path(self, month: str, visit_id: str, photo_id: str, thumb: bool) -> Path | None:
        """The stored file of a photo, or None."""
        if not PHOTO_ID_RE.match(photo_id) or not PHOTO_ID_RE.match(visit_id):
            return None
        path = self._visit_folder(month, visit_id) / (
            f"{photo_id}.thumb.jpg" if thumb else f"{photo_id}.jpg"
        )
        return path if path.is_file() else None

    def read(self, month: str, visit_id: str, photo_id: str, thumb: bool) -> bytes | None:
        """The stored bytes of a photo, or None (the engine-neutral form of ``path``)."""
        path = self.path(month, visit_id, photo_id, thumb)
        try:
            return path.read_bytes() if path is not None else None
        except FileNotFoundError:  # removed between the look and the read
            return None

    def months(self, visit_id: str) -> list[str]:
        """Months (newest first) that hold photos of this visit id."""
        if not PHOTO_ID_RE.match(visit_id) or not self.folder.is_dir():
            return []
        return sorted(
            (
                p.name
                for p in self.folder.iterdir()
                if _MONTH_RE.match(p.name) and (p / visit_id).is_dir()
            ),
            reverse=True,
        )

    def files(self) -> Iterator[Path]:
        """Every stored photo and thumbnail file, in no particular order (temporary files of
        a write in progress left out)."""
        if not self.folder.is_dir():
            return
        for photo in self.folder.rglob("*.jpg"):
            if not photo.name.startswith("."):
                yield photo
