"""The one package that owns storage. Nothing outside it imports TinyDB.

Layout of the data folder::

    registry.json                        villages, households, users, API tokens, settings
    sessions.json                        browser logins (left out of backups)
    visits/YYYY-MM/<village>.json        the visits and needs of one village in one month
    visits/YYYY-MM/<village>.json.log    its journal: changes not yet folded into the file
    audit/YYYY-MM.jsonl                  append-only audit entries
    photos/YYYY-MM/<visit id>/           photos of a visit, re-encoded
    .locks/                              one lock file per data file

Why this shape (see docs/decisions/0001-storage.md):

* Durable. TinyDB's JSONStorage rewrites its file in place, so a crash mid-write leaves half a
  file. Here a file is replaced by writing a temporary file, fsyncing it, renaming it over the
  old one and fsyncing the folder: a reader sees the old file or the new one, never a mix.
* Cheap on the helping day. Saving a visit appends one line to its file's journal and fsyncs
  it, instead of rewriting the file; every ``COMPACT_AFTER`` saves the journal is folded into
  the file. A line torn by a crash was never acknowledged and is ignored (and cut off by the
  next writer); the folded file records which journal it holds, so a crash between the fold
  and the journal's removal replays nothing twice.
* Safe with threads and processes. Each data file has a lock file; a write holds it (a
  ``filelock`` lock, which is an ``flock``, plus a thread lock) for its whole
  read-modify-write.
* Fast with history. No file grows with the years: visits are split by month and village
  (~50 records a file), so saving a visit costs the same in year ten as on day one. Reads are
  cached by the identity (inode, mtime, size) of the file and of its journal, so a page that
  reads a month does not parse JSON that has not changed, and a change made by another
  process is seen at once.

The interface, all through a ``Store`` (``store.py``; ``current.get_store()`` in the app):

* the registry: ``registry()``, ``update_registry(change)``, ``household``,
  ``household_by_token``, ``user``, ``setting``, ``is_empty``, ``finish_moves()``;
* visits and needs: ``months()``, ``visits``, ``needs``, ``find_visit``,
  ``find_visit_in_month``, ``household_visits``, ``save_visit(visit, decide, needs_for,
  audit)``, ``update_need``, ``import_visits``, ``with_recent_visits``;
* ``audit(entry)``, the one way a change is written down, and its member ``audit_log``
  (an ``AuditLog``): ``append(entry)``, ``months()``, ``entries(month)`` (cached),
  ``read_entries(month)`` (parsed afresh), ``path(month)``;
* ``photos`` (``Photos``): ``save(month, visit, photo, full, thumb)``, ``path(...)``,
  ``months(visit)``, ``files()``;
* ``sessions`` (``LoginSessions``, the browser logins): ``all()``, ``get(digest)``,
  ``update(change)``;
* ``secret(name, make)``, and ``snapshot_files`` for backups (``backup.write_backup``,
  ``restore.restore_backup``; ``backup`` also runs the daily backup).

The Store decides nothing about the domain: what a visit may hold, which of its needs keep
their state (``visits.needs.carry_over``), who may do what are the callers'. It keeps the
data whole: files, locks, journals, and a household's records following it to another
village.

Objects returned by the read functions come from a shared cache: treat them as read-only and
change data only through the ``update_*``/``save_*`` functions.

The modules, from the bottom up: ``durable`` (atomic rewrites, fsynced appends), ``journal``
(a data file and its journal read back), ``files`` (locks, transactions, the read cache; the
only module that imports TinyDB), ``paths`` (names and identifiers), ``visit_files`` (which
visit files there are), ``registry_file`` (registry.json as domain objects), ``moves``
(households that changed village), ``audit_log``, ``photos`` and ``sessions`` (the Store's
members), ``quarantine`` (files a backup could not hold, moved aside on start), ``store``
(the Store), ``current`` (the app's Store: the only module that imports Flask), ``backup``
and ``restore``.
"""

from .audit_log import AuditLog
from .durable import append_durably, atomic_write_bytes, make_dirs
from .journal import JOURNAL_SUFFIX, StorageError
from .paths import PHOTO_ID_RE, REGISTRY, village_file_name
from .photos import Photos
from .registry_file import Registry
from .sessions import LoginSessions
from .store import Store

__all__ = [
    "JOURNAL_SUFFIX",
    "PHOTO_ID_RE",
    "REGISTRY",
    "AuditLog",
    "LoginSessions",
    "Photos",
    "Registry",
    "StorageError",
    "Store",
    "append_durably",
    "atomic_write_bytes",
    "make_dirs",
    "village_file_name",
]
