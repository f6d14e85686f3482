"""The parts of the engine interface (``storage.engine``) the embedded Store adds to what it
always had, kept here so that store.py stays about the data folder's files."""

from __future__ import annotations

from pathlib import Path

from .job_book import MemoryJobBook
from .reports import ReportFolder


class FolderParts:
    """Mixed into ``Store``: its location for people, its report files, ``close``."""

    root: Path

    @property
    def location(self) -> str:
        """Where the data is, for people: the data folder."""
        return str(self.root)

    @property
    def reports(self) -> ReportFolder:
        """Finished background downloads: ``<data>/exports/``."""
        return ReportFolder(self.root / "exports")

    @property
    def jobs(self) -> MemoryJobBook:
        """Records of background downloads: in this process's memory (one computer)."""
        book: MemoryJobBook | None = self.__dict__.get("_job_book")
        if book is None:
            book = self.__dict__.setdefault("_job_book", MemoryJobBook())
        return book

    def close(self) -> None:
        """Nothing to release: files are opened per use (the PostgreSQL store has a pool)."""
