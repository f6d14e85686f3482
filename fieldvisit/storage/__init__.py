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

Objects returned by the read functions come from a shared cache: treat them as read-only and
change data only through the ``update_*``/``save_*`` functions.

The modules, from the bottom up: ``durable`` (atomic rewrites, fsynced appends), ``journal``
(a data file and its journal read back), ``files`` (locks, transactions, the read cache; the
only module that imports TinyDB), ``paths`` (where things live), ``registry_file``
(registry.json as domain objects), ``audit_log``, ``photos`` and ``sessions`` (their parts
of the Store), ``store`` (the Store).
"""

from .durable import append_durably, atomic_write_bytes, make_dirs
from .journal import JOURNAL_SUFFIX, StorageError
from .paths import PHOTO_ID_RE, REGISTRY, check_month, village_file_name
from .registry_file import Registry
from .store import Store

__all__ = [
    "JOURNAL_SUFFIX",
    "PHOTO_ID_RE",
    "REGISTRY",
    "Registry",
    "StorageError",
    "Store",
    "append_durably",
    "atomic_write_bytes",
    "check_month",
    "make_dirs",
    "village_file_name",
]
