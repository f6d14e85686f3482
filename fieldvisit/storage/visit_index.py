"""Where each visit id is stored: ``index/visits/<xx>.jsonl``, whatever the visit's date.

A visit is filed under its month and village, so without an index the same client id sent
again with a date in another month would be stored twice. The index maps every id to the
month and household it was stored with; a save looks its id up (under the id's shard lock,
so two saves of one id cannot both miss it) before choosing the file to write.

The index is derived data: its lines are appended without an fsync of their own, after the
visit's journal line (the commit) is durable, and ``storage.recovery`` adds any a crash kept
from the disk by reading the visit files written since the last start. It is left out of
backups and rebuilt when missing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .durable import append_unsynced, sync_file
from .journal import signature
from .locks import lock_for

INDEX = "index"


@dataclass(frozen=True)
class Placed:
    """Where a visit id was stored: its month and household (the village is the
    household's, which a move may change)."""

    month: str
    household: str


def _shard(visit_id: str) -> str:
    return hashlib.sha1(visit_id.encode("utf-8")).hexdigest()[:2]


class VisitIndex:
    """The visit-id index of one data folder (``Store.visit_index``)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / INDEX / "visits"
        # shard -> (the file's inode, bytes parsed, id -> where)
        self._cache: dict[str, tuple[int, int, dict[str, Placed]]] = {}
        self._cache_lock = threading.Lock()
        self._lock_dir = root / ".locks"

    def path(self, visit_id: str) -> Path:
        return self.folder / f"{_shard(visit_id)}.jsonl"

    @contextmanager
    def locked(self, visit_id: str) -> Iterator[None]:
        """Hold the lock of this id's shard (threads and processes) for a save's whole
        look-up-and-write."""
        with lock_for(self._lock_dir / f"index__{_shard(visit_id)}.lock"):
            yield

    def _read(self, shard: str) -> dict[str, Placed]:
        path = self.folder / f"{shard}.jsonl"
        with self._cache_lock:
            sig = signature(path)
            if sig is None:
                self._cache.pop(shard, None)
                return {}
            inode, offset, known = self._cache.get(shard, (sig[0], 0, {}))
            if inode != sig[0] or offset > sig[2]:
                offset, known = 0, {}
            if offset < sig[2]:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    raw = fh.read()
                complete = raw[: raw.rfind(b"\n") + 1]
                known = dict(known)
                for line in complete.splitlines():
                    try:
                        doc = json.loads(line)
                        known.setdefault(doc["id"], Placed(doc["month"], doc["household"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash
                offset += len(complete)
            self._cache[shard] = (sig[0], offset, known)
            return known

    def get(self, visit_id: str) -> Placed | None:
        """Where this id was stored, or None."""
        return self._read(_shard(visit_id)).get(visit_id)

    def add(self, entries: Iterable[tuple[str, str, str]]) -> int:
        """Record (visit id, month, household) triples not yet in the index; how many."""
        by_shard: dict[str, list[bytes]] = {}
        for visit_id, month, household in entries:
            shard = _shard(visit_id)
            if visit_id in self._read(shard):
                continue
            doc = {"id": visit_id, "month": month, "household": household}
            by_shard.setdefault(shard, []).append(
                json.dumps(doc, ensure_ascii=False).encode("utf-8") + b"\n"
            )
        for shard, lines in by_shard.items():
            append_unsynced(self.folder / f"{shard}.jsonl", b"".join(lines))
        return sum(len(lines) for lines in by_shard.values())

    def sync(self) -> None:
        """Make every shard durable (after recovery rebuilt it)."""
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.jsonl")):
                sync_file(path)
