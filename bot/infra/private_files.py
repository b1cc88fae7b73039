"""Files only their owner can read: the stores' databases, the secret, exports.

Transcripts, case facts and staff password hashes live in files under
``var/``. Whatever the process's umask, the folder is made 0700 and each file
0600 before anything is written to it (SQLite gives a database's ``-wal`` and
``-shm`` files the database's own mode).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: str | Path) -> Path:
    """Create ``path`` owner-only, or make our own existing folder owner-only.

    A shared folder (sticky or writable by all, like /tmp) is left as it is: a
    database put there directly is protected by its own mode, and taking /tmp
    from everyone else would break the machine.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    status = directory.stat()
    shared = status.st_mode & (stat.S_ISVTX | stat.S_IWOTH)
    if status.st_uid == os.geteuid() and not shared:
        os.chmod(directory, DIRECTORY_MODE)
    return directory


def private_file(path: str | Path) -> Path:
    """Create ``path`` (and its folder) owner-only if missing; make it owner-only if not."""
    file = Path(path)
    private_directory(file.parent)
    os.close(os.open(file, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    for companion in (file, *(file.with_name(file.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        if companion.exists():
            os.chmod(companion, FILE_MODE)
    return file
