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
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .durable import append_to, dumps, make_dirs, sync_file
from .journal import Signature, StorageError, signature
from .locks import forget_lock, lock_for

INDEX = "index"
# Up to this many ids for one shard are looked up one by one (``add``).
_FEW = 8


@dataclass(frozen=True)
class Placed:
    """Where a visit id was stored: its month and household (the village is the
    household's, which a move may change)."""

    month: str
    household: str


def _shard(visit_id: str) -> str:
    return hashlib.sha1(visit_id.encode("utf-8")).hexdigest()[:2]


def _find(lines: bytes, visit_id: str) -> Placed | None:
    """The first line of ``lines`` whose id is ``visit_id`` (a whole-string match), as a
    Placed. Only lines holding the id as a JSON string are parsed: lines are written by
    ``json.dumps`` (``add``), so a line of this id holds it encoded so."""
    # Either JSON form of the id (the same bytes for an ASCII id, which every valid id is).
    needles = [_json(visit_id, False)]
    if not visit_id.isascii():
        needles.append(_json(visit_id, True))
    for needle in needles:
        at = lines.find(needle)
        while at != -1:
            start = lines.rfind(b"\n", 0, at) + 1
            end = lines.find(b"\n", at)
            try:
                doc = json.loads(lines[start:end])
                if doc["id"] == visit_id:
                    return Placed(doc["month"], doc["household"])
            except (ValueError, KeyError, TypeError):
                pass  # a line cut short by a crash
            at = lines.find(needle, end)
    return None


def _ids(lines: bytes) -> set[str]:
    """Every id in ``lines``."""
    out = set()
    for line in lines.splitlines():
        try:
            out.add(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash
    return out


# The encoders of an id as a JSON string, either form (``_find``), made once rather than by
# ``json.dumps`` at every save.
_UNICODE = json.JSONEncoder(ensure_ascii=False)
_ASCII = json.JSONEncoder()


def _line(visit_id: str, month: str, household: str) -> bytes:
    # Compact, as every data file (lines of older versions have spaces after ``:`` and
    # ``,``): ``_find`` looks for the id as a JSON string, whatever the separators.
    return dumps({"id": visit_id, "month": month, "household": household}) + b"\n"


def _json(text: str, ascii_only: bool) -> bytes:
    return (_ASCII if ascii_only else _UNICODE).encode(text).encode("utf-8")


class VisitIndex:
    """The visit-id index of one data folder (``Store.visit_index``)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / INDEX / "visits"
        # shard -> (the file's inode, its complete lines as read so far). Kept as bytes and
        # searched, not parsed: a look-up parses only the lines that hold its id, so the
        # first save into a shard costs no more than the next (a shard holds ~1/256 of all
        # the ids, some hundreds of lines after ten years).
        self._cache: dict[str, tuple[int, bytes]] = {}
        self._cache_lock = threading.Lock()
        # shard -> its file, open, for the thread holding its lock (``claim``)
        self._held = threading.local()
        self._paths: dict[str, Path] = {}
        self._checked: dict[Path, tuple[int, float]] = {}  # see _still_there

    def path(self, visit_id: str) -> Path:
        return self._shard_path(_shard(visit_id))

    @contextmanager
    def claim(self, visit_id: str) -> Iterator[Claim]:
        """Hold the lock of this id's shard (threads and processes) for a save's whole
        look-up-and-write: the claim says where the id is stored, if anywhere, and
        records it once the save is written."""
        shard = _shard(visit_id)
        with self._locked_shard(shard) as (fd, st):
            yield Claim(self, shard, fd, visit_id, st)

    def _shard_path(self, shard: str) -> Path:
        path = self._paths.get(shard)
        if path is None:
            path = self._paths[shard] = self.folder / f"{shard}.jsonl"
        return path

    @contextmanager
    def _locked_shard(self, shard: str) -> Iterator[tuple[int, os.stat_result]]:
        """Hold the shard's lock, and yield its file open (with its ``fstat``): every
        process locks the shard file itself and appends to it only under that lock, through
        the lock's open file (no lock file to create, no file opened per save)."""
        held: dict[str, int] = self._held.__dict__.setdefault("shards", {})
        if shard in held:  # re-entered by the holding thread
            yield held[shard], os.fstat(held[shard])
            return
        path = self._shard_path(shard)
        for _attempt in range(3):
            try:
                lock = lock_for(path)
                lock.__enter__()
            except FileNotFoundError:  # no index folder yet
                make_dirs(self.folder)
                continue
            try:
                fd = lock.fileno()
                st = os.fstat(fd)
                if self._still_there(path, st):
                    held[shard] = fd
                    try:
                        yield fd, st
                    finally:
                        del held[shard]
                    return
            finally:
                lock.__exit__(None, None, None)
            # Removed or replaced since this process opened it: open the file now there.
            forget_lock(path)
        raise StorageError(f"the visit-id index shard {path} keeps changing")

    def _still_there(self, path: Path, st: os.stat_result) -> bool:
        """Whether the shard file open as ``st`` is still the one at ``path``. Nothing
        removes or replaces a shard while servers run; this catches an index folder
        removed by hand (seen at once: the open file has no link left) or put back from
        elsewhere (the path asked at most once a second per shard, a ``stat`` a save
        otherwise paid), so that every process moves to the files now there."""
        now = time.monotonic()
        checked = self._checked.get(path)
        if checked is not None and checked[0] == st.st_ino and now - checked[1] < 1.0:
            return st.st_nlink > 0
        there = signature(path)
        if there is None or there[0] != st.st_ino:
            return False
        self._checked[path] = (st.st_ino, now)
        return True

    def _lines(self, shard: str, fd: int | None = None, st: os.stat_result | None = None) -> bytes:
        """The shard's complete lines, read again from where the last reading stopped
        (through ``fd``, the shard's file held locked, when given; ``st``: its ``fstat``
        under the lock)."""
        path = self._shard_path(shard)
        with self._cache_lock:
            if fd is not None:  # locked: the lock's open file is the shard's
                st = st or os.fstat(fd)
                sig: Signature = (st.st_ino, st.st_mtime_ns, st.st_size)
            else:
                sig = signature(path)
            if sig is None:
                self._cache.pop(shard, None)
                return b""
            inode, raw = self._cache.get(shard, (sig[0], b""))
            if inode != sig[0] or len(raw) > sig[2]:  # replaced: start again
                raw = b""
            if len(raw) < sig[2]:
                if fd is not None:
                    more = os.pread(fd, sig[2] - len(raw), len(raw))
                else:
                    with path.open("rb") as fh:
                        fh.seek(len(raw))
                        more = fh.read()
                raw += more[: more.rfind(b"\n") + 1]  # a line being appended waits
            self._cache[shard] = (sig[0], raw)
            return raw

    def get(self, visit_id: str) -> Placed | None:
        """Where this id was stored, or None."""
        return _find(self._lines(_shard(visit_id)), visit_id)

    def record(self, visit_id: str, month: str, household: str) -> None:
        """Record an id as stored with ``month`` and ``household`` (what a save does through
        the ``claim`` it holds)."""
        with self.claim(visit_id) as claim:
            claim.record(month, household)

    def add(self, entries: Iterable[tuple[str, str, str]]) -> int:
        """Record (visit id, month, household) triples not yet in the index; how many."""
        by_shard: dict[str, list[tuple[str, str, str]]] = {}
        for entry in entries:
            by_shard.setdefault(_shard(entry[0]), []).append(entry)
        written = 0
        for shard, wanted in by_shard.items():
            with self._locked_shard(shard) as (fd, st):
                lines = self._lines(shard, fd, st)
                # Many ids at once (an import, a recovery): the shard's ids parsed once,
                # rather than its bytes searched for each.
                known = _ids(lines) if len(wanted) > _FEW else None
                new: dict[str, bytes] = {}
                for visit_id, month, household in wanted:
                    stored = visit_id in known if known is not None else _find(lines, visit_id)
                    if not stored and visit_id not in new:
                        new[visit_id] = _line(visit_id, month, household)
                if new:
                    append_to(fd, self._shard_path(shard), b"".join(new.values()))
                    written += len(new)
        return written

    def sync(self) -> None:
        """Make every shard durable (after recovery rebuilt it)."""
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.jsonl")):
                sync_file(path)


class Claim:
    """A visit id's shard held locked (``VisitIndex.claim``)."""

    def __init__(
        self, index: VisitIndex, shard: str, fd: int, visit_id: str, st: os.stat_result
    ) -> None:
        self._index, self._shard, self._fd, self.visit_id = index, shard, fd, visit_id
        lines = index._lines(shard, fd, st)
        # Every writer appends under the lock held now: a shard whose lines fill it ends
        # with a newline, and ends so at ``record`` (a torn tail is looked for otherwise).
        self._clean = len(lines) == st.st_size
        self.placed = _find(lines, visit_id)  # where it is stored, or None

    def record(self, month: str, household: str) -> None:
        """Record the id, found missing, as now stored with ``month`` and ``household``."""
        path = self._index._shard_path(self._shard)
        line = _line(self.visit_id, month, household)
        append_to(self._fd, path, line, clean_end=self._clean)
