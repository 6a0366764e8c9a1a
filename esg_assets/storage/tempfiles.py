"""Atomic file writes (`atomic_write`: a temp file `.<name>.<pid>.<random>.tmp` in the same
directory, fsynced, renamed over the target), and sweeping the temp files a killed writer left
behind: the local store's encrypted temp files and the plain ones of `files get`.

A temp file is removed on every error the process sees; only a process killed outright (SIGKILL,
power loss) leaves one. Its name holds the writer's pid, so the next writer of the same
directory removes leftovers whose writer no longer runs, and never a live writer's file.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{16}\.tmp")


def temp_path(directory: Path, name: str) -> Path:
    return directory / f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"


def atomic_write(target: Path, chunks: Iterable[bytes], *, mode: int = 0o600, sync_dir: bool = False) -> None:
    """Replace `target` with `chunks`, all or nothing: a reader sees the old file or the whole
    new one, never half of it. The temp file is created O_EXCL|O_NOFOLLOW (never through a
    planted file or symlink) with `mode` set whatever the umask, synced, renamed, and removed on
    any error. `sync_dir` also syncs the directory, so the rename itself survives a power loss."""
    tmp = temp_path(target.parent, target.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode != 0o600:
                os.fchmod(handle.fileno(), mode)
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a rename, a removal) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        if match is None or _alive(int(match["pid"])):
            continue
        # The writer's pid is judged before the file is looked at: a live writer (another `files
        # get` into the same directory) renames its temp file away at any moment, and a stat of
        # the vanished name failed this sweep. A dead writer's file may still be removed by a
        # concurrent sweeper first: gone is no error.
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.name)
    return removed
