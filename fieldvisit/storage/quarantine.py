"""Data files whose names a backup could not hold, moved aside when the Store starts."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from .durable import make_dirs

_log = logging.getLogger(__name__)
# Where the start moves data files a backup could not hold. Backups leave it out: they take
# only the data files the Store lists.
QUARANTINE = "quarantine"


def quarantine_misnamed(root: Path, candidates: Iterable[Path]) -> list[str]:
    """Move the files among ``candidates`` (data files under ``root``) whose names a backup
    may not hold into ``quarantine/<time>/`` (same relative path), with a warning naming
    each; returns their relative paths.

    Such a name (a newline or control character in it, a photo folder or file that is
    no visit or photo id) is not one the app makes today: it came from a version whose
    id patterns let a trailing newline through, or from a hand. Left in place it would
    stop every backup (``write_backup`` refuses it, since ``restore_backup`` would).
    Renaming it cannot be right, as no record names the file under a corrected name,
    and deleting it would lose what may be someone's evidence; moved aside, the data
    stays on the disk for the operator and the folder can be backed up again.
    """
    # Imported on use: the backup module brings flask_babel (its messages are the
    # operator's), which a store opened outside the app has no need of.
    from .backup import allowed_name

    misnamed = [path for path in candidates if not allowed_name(path.relative_to(root).as_posix())]
    if not misnamed:
        return []
    make_dirs(root / QUARANTINE)
    stamp = time.strftime("%Y%m%d-%H%M%S-")
    folder = Path(tempfile.mkdtemp(prefix=stamp, dir=root / QUARANTINE))
    moved = []
    for path in misnamed:
        rel = path.relative_to(root)
        target = folder / rel
        make_dirs(target.parent)
        try:
            os.replace(path, target)
        except FileNotFoundError:
            continue  # another process starting on this folder moved it first
        moved.append(rel.as_posix())
        if rel.parts[0] == "photos" and len(rel.parts) == 4:
            with contextlib.suppress(OSError):  # a visit's photo folder left empty
                path.parent.rmdir()
    if not moved:
        with contextlib.suppress(OSError):
            folder.rmdir()
        return []
    _log.warning(
        "moved %d file(s) whose names a backup cannot hold to %s: %s",
        len(moved),
        folder,
        ", ".join(repr(name) for name in moved),
    )
    return moved
