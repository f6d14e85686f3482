"""The one package that owns storage. Nothing outside it imports TinyDB.

Layout of the data folder::

    registry.json(.log)                  villages, households, users, API tokens, settings…
    sessions.json(.log)                  browser logins (left out of backups)
    visits/YYYY-MM/<village>.json        the visits and needs of one village in one month
    <data file>.log                      its journal: changes not yet folded into the file
    audit/YYYY-MM.jsonl                  append-only audit entries (copies: see below)
    photos/YYYY-MM/<visit id>/           photos of a visit, re-encoded
    closed/YYYY-MM/<sha256>.json|.pdf    a closed month's frozen registry and issued summary
    index/visits/<xx>.jsonl              where each visit id is stored (rebuilt when missing)
    .recovered                           when the last start finished its recovery
    .locks/                              one lock file per data file

Why this shape (see docs/decisions/0001-storage.md):

* Durable. TinyDB's JSONStorage rewrites its file in place, so a crash mid-write leaves half a
  file. Here a file is replaced by writing a temporary file, fsyncing it, renaming it over the
  old one and fsyncing the folder: a reader sees the old file or the new one, never a mix.
* One change, one durable write. Every change appends one line to its file's journal and
  fsyncs it, instead of rewriting the file: the line holds the change and its audit entries,
  so they are durable together or not at all. The audit log and the visit-id index are
  copies written after it, completed on the next start if a crash interrupts them
  (``recovery``; docs/decisions/0012-one-durable-write.md). Every ``COMPACT_AFTER`` lines
  the journal is folded into the file. A line torn by a crash was never acknowledged and is
  ignored (and cut off by the next writer); the folded file records which journal it holds,
  so a crash between the fold and the journal's removal replays nothing twice. Every step
  that changes the disk goes through ``durable.step``, where the crash tests fail or kill
  the process.
* Safe with threads and processes. Each data file has a lock file; a write holds it (an
  ``flock`` on a lock file kept open, plus a thread lock: ``locks``) for its whole
  read-modify-write.
* Fast with history. No file grows with the years: visits are split by month and village
  (~50 records a file), so saving a visit costs the same in year ten as on day one. Reads are
  cached by the identity (inode, mtime, size) of the file and of its journal, so a page that
  reads a month does not parse JSON that has not changed, and a change made by another
  process is seen at once.

The interface, all through a ``Store`` (``store.py``; ``current.get_store()`` in the app):

* the registry: ``registry()``, ``update_registry(change, audit)``, ``household``,
  ``household_by_token``, ``user``, ``setting``, ``is_empty``, ``finish_moves()``;
* visits and needs: ``months()``, ``visits``, ``needs``, ``find_visit``, ``visit_by_id``,
  ``household_visits(months, village, id)``, ``household_needs(village, id)``,
  ``save_visit(visit, decide, needs_for, audit)``,
  ``update_need(month, village, id, change)``, ``import_visits``;
* closed months: ``closed_months()``, ``is_closed(month)``, ``set_month(month, change,
  audit)``, and the member ``closed`` (``ClosedFiles``: ``put``, ``path``, ``read``);
  a save into a closed month raises ``MonthClosed``;
* audit entries travel with the change that makes them (the ``audit`` arguments above);
  ``audit(entry)`` is for an entry that is a change by itself (a download). The member
  ``audit_log`` (an ``AuditLog``): ``months()``, ``entries(month)`` (cached),
  ``read_entries(month)`` (parsed afresh), ``path(month)``;
* ``recover()``, run on every start;
* ``photos`` (``Photos``): ``save(month, visit, photo, full, thumb)``, ``path(...)``,
  ``months(visit)``, ``files()``;
* ``sessions`` (``LoginSessions``, the browser logins): ``all()``, ``get(digest)``,
  ``update(change, audit)``;
* ``secret(name, make)``, and ``snapshot_files`` for backups (``backup.write_backup``,
  ``restore.restore_backup``; ``backup`` also runs the daily backup).

The Store decides nothing about the domain: what a visit may hold, which of its needs keep
their state (``visits.needs.carry_over``), who may do what are the callers'. It keeps the
data whole: files, locks, journals, and a household's records following it to another
village.

Objects returned by the read functions come from a shared cache: treat them as read-only and
change data only through the ``update_*``/``save_*`` functions.

The modules, from the bottom up: ``durable`` (atomic rewrites, appends, the crash tests'
seam), ``locks`` (flock on kept-open lock files), ``journal`` (a data file and its journal
read back), ``open_journals`` (busy journals kept open, and why that stays coherent),
``files`` (commits, transactions, the read cache; the only module that imports TinyDB),
``paths`` (names and identifiers), ``visit_files`` (which visit files there are),
``registry_file`` (registry.json as domain objects), ``moves`` (households that changed
village), ``audit_log``, ``photos``, ``closed``, ``visit_index`` and ``sessions`` (the
Store's members), ``recovery`` (what a start completes), ``quarantine`` (files a backup
could not hold, moved aside on start), ``snapshot`` (what a backup reads), ``store`` (the
Store), ``current`` (the app's Store: the only module that imports Flask), ``backup`` and
``restore``.
"""

from typing import TYPE_CHECKING

from .audit_log import AuditLog
from .closed import ClosedFiles, MonthClosed
from .durable import append_durably, atomic_write_bytes, make_dirs
from .journal import JOURNAL_SUFFIX, StorageError
from .paths import PHOTO_ID_RE, REGISTRY, village_file_name
from .photos import Photos
from .registry_file import Registry
from .sessions import LoginSessions

if TYPE_CHECKING:
    # Code above storage types its store as ``Store`` and may use only what every engine
    # has, so to the type checker that name is the engine interface (engine.Engine: the
    # data folder or PostgreSQL). At run time it is the embedded store's class, which tests,
    # benchmarks and scripts construct over a folder.
    from .engine import Engine as Store
else:
    from .store import Store

__all__ = [
    "JOURNAL_SUFFIX",
    "PHOTO_ID_RE",
    "REGISTRY",
    "AuditLog",
    "ClosedFiles",
    "LoginSessions",
    "MonthClosed",
    "Photos",
    "Registry",
    "StorageError",
    "Store",
    "append_durably",
    "atomic_write_bytes",
    "make_dirs",
    "village_file_name",
]
