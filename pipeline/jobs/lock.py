"""One run per output folder: the batch process holds ``DIR/.avatar-generate.lock`` while it writes there.

The lock file is created with ``O_CREAT | O_EXCL`` (atomic on local file systems and on NFS v3 and later, where
``flock`` may do nothing) and names the host, process id, process start time and run id of its holder. A second run
on the folder is refused with that information. A lock left by a killed run is cleared automatically when it was
made on this host by a process that no longer exists (or a newer process with a reused id); a lock from another host
must be deleted by hand once that run is known to be gone (the message says so).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from pipeline.core.files import RUN_ID

LOCK_NAME = ".avatar-generate.lock"


class FolderLocked(RuntimeError):
    """Another run holds the output folder."""


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _alive(holder: dict[str, Any]) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        return _start_ticks(pid) == holder.get("start")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """``with OutputLock(out):`` holds the folder for the duration of a run."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK_NAME
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_ticks(os.getpid()),
                   "run": RUN_ID, "since": time.strftime("%Y-%m-%d %H:%M:%S")}

    def _holder(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> list[str]:
        """Take the lock; returns notes (a stale lock cleared). FolderLocked when another run holds it."""
        notes = []
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except FileExistsError:  # held, or left behind
                holder = self._holder()
                if holder.get("host") == self.me["host"] and not _alive(holder):
                    self.path.unlink(missing_ok=True)
                    notes.append(f"cleared the lock of a run that no longer exists (pid {holder.get('pid')}, "
                                 f"since {holder.get('since')})")
                    continue
                who = (f"host {holder.get('host')}, pid {holder.get('pid')}, since {holder.get('since')}"
                       if holder else "unreadable lock file")
                raise FolderLocked(f"{self.path.parent} is in use by another avatar generate ({who}); if that run "
                                   f"has ended, delete {self.path} and start again") from None
            with os.fdopen(fd, "w") as f:
                json.dump(self.me, f)
            return notes
        raise FolderLocked(f"could not take {self.path}: another run keeps taking it")

    def release(self) -> None:
        if self._holder().get("run") == RUN_ID:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
