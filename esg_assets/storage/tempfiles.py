"""Temp files of atomic writes (`.<name>.<pid>.<random>.tmp`), and sweeping the ones a killed
writer left behind: the local store's encrypted temp files and the plain ones of `files get`.

A temp file is removed on every error the process sees; only a process killed outright (SIGKILL,
power loss) leaves one. Its name holds the writer's pid, so the next writer of the same
directory removes leftovers whose writer no longer runs, and never a live writer's file.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{16}\.tmp")


def temp_path(directory: Path, name: str) -> Path:
    return directory / f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, and not ours to judge
    return True


def sweep_leftovers(directory: Path) -> list[str]:
    """Remove temp files of dead writers in `directory` (owned by this user); their names."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        if entry.stat(follow_symlinks=False).st_uid != os.getuid() or _alive(int(match["pid"])):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.name)
    return removed
