"""Where visits and needs lie: ``visits/YYYY-MM/<village>.json``, one file (and its journal)
for each village and month, and which of those files exist."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .journal import JOURNAL_SUFFIX
from .paths import _MONTH_RE, check_month, village_file_name

# File paths kept by (month, village): a county's ten years are some 50,000.
_PATHS_KEPT = 65536


class VisitFiles:
    """The visit files of one data folder. Knows their names and lists them; reading and
    writing them is ``Files``'s."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # <data>/visits
        # month folder -> (its mtime, the files in it, when that was last found current)
        self._listings: dict[Path, tuple[int, list[Path], float]] = {}
        self._paths: dict[tuple[str, str], Path] = {}

    def path(self, month: str, village: str) -> Path:
        """The file of ``village``'s visits dated in ``month`` (it may not exist yet)."""
        # Kept: every save and read asks, and the checks and Path arithmetic are not free.
        key = (month, village)
        found = self._paths.get(key)
        if found is None:
            if len(self._paths) >= _PATHS_KEPT:
                self._paths.clear()
            found = self._paths[key] = self.folder / check_month(month) / village_file_name(village)
        return found

    def months(self) -> list[str]:
        """Months that have visit files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if _MONTH_RE.match(p.name))

    def of_month(self, month: str, max_age: float | None = None) -> list[Path]:
        """The files of every village with visits in ``month``, by name. With ``max_age``
        (seconds), a listing found current that recently is used without asking the disk."""
        folder = self.folder / check_month(month)
        recent = self._listings.get(folder)
        if max_age is not None and recent is not None and time.monotonic() - recent[2] < max_age:
            return recent[1]
        # A folder's mtime changes whenever a file in it is created, renamed or removed (not
        # when a journal grows), so its listing can be cached on it. Timestamps are coarse (a
        # few ms), so a listing is trusted only once its mtime is a second old: two changes
        # within one tick would otherwise leave the same mtime and a stale listing.
        try:
            mtime = os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            return []
        cached = self._listings.get(folder)
        if cached is not None and cached[0] == mtime and time.time_ns() - mtime > 1_000_000_000:
            self._listings[folder] = (mtime, cached[1], time.monotonic())
            return cached[1]
        # A village's file may exist only as its journal until the first fold.
        names = {
            p.name.removesuffix(JOURNAL_SUFFIX)
            for p in folder.iterdir()
            if p.name.endswith((".json", ".json" + JOURNAL_SUFFIX)) and not p.name.startswith(".")
        }
        paths = [folder / name for name in sorted(names)]
        self._listings[folder] = (mtime, paths, time.monotonic())
        return paths

    def journals(self) -> list[Path]:
        """Every visit file's journal now on disk, by month and name."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*/*.json" + JOURNAL_SUFFIX))
