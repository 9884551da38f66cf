"""One memory cgroup per sandbox run.

RLIMIT_AS bounds each process of a run to 1 GiB, but a run may start 64 processes: six forked
children of 850 MiB took ~4.9 GB of host RAM in one low-risk run (ninth-session audit), and with no
swap the kernel's OOM killer picks host processes. A cgroup bounds the run as a whole, and its OOM
killer stays inside it. The run joins the group itself: a one-line shell, started as the sandbox
user like bwrap, writes its own pid to the group's `cgroup.procs` (chowned to that user) and
execs bwrap, so no process of the run is ever outside it. With no writable memory controller
(cgroup v1 `memory` hierarchy or v2 with `memory` delegated) runs keep the per-process limits
alone, and a warning says so once.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)
_ROOT = Path("/sys/fs/cgroup")
# `$1` is the group's cgroup.procs; joining first, then exec, so bwrap and all it starts are inside.
_JOIN = 'echo $$ > "$1" || { echo "sandbox: cannot join its memory cgroup" >&2; exit 125; }; shift; exec "$@"'


@lru_cache(maxsize=1)
def _parent() -> tuple[Path, bool] | None:
    """(the folder new groups go in, whether it is cgroup v2), or None without a usable controller."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:  # cgroup v1: "4:memory:/path"
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            for base in (_ROOT / "memory" / path.lstrip("/"), _ROOT / "memory"):
                if (base / "memory.limit_in_bytes").exists() and os.access(base, os.W_OK):
                    return base, False
    for line in lines:  # cgroup v2: "0::/path", with memory enabled for children
        if line.startswith("0::"):
            base = _ROOT / line[3:].lstrip("/")
            try:
                enabled = (base / "cgroup.subtree_control").read_text().split()
            except OSError:
                return None
            if "memory" in enabled and os.access(base, os.W_OK):
                return base, True
    return None


class RunGroup:
    """A cgroup holding one run, at most `limit` bytes of memory (swap included where it can)."""

    def __init__(self, path: Path, v2: bool) -> None:
        self.path, self.v2 = path, v2

    @classmethod
    def create(cls, limit: int, uid: int | None) -> RunGroup | None:
        found = _parent()
        if found is None:
            _warn_once()
            return None
        parent, v2 = found
        group = cls(parent / f"agentdesk-sandbox-{uuid.uuid4().hex[:12]}", v2)
        try:
            group.path.mkdir()
            limits = (("memory.max", limit), ("memory.swap.max", 0)) if v2 else (
                ("memory.limit_in_bytes", limit), ("memory.memsw.limit_in_bytes", limit))
            for name, value in limits:
                if (group.path / name).exists():
                    (group.path / name).write_text(str(value))
            if uid is not None:  # the run joins itself, as the sandbox user
                os.chown(group.path / "cgroup.procs", uid, -1)
        except OSError as exc:
            log.warning("sandbox: cannot set up a memory cgroup (%s); per-process limits only", exc)
            group.remove()
            return None
        return group

    def wrap(self, argv: list[str]) -> list[str]:
        return ["/bin/sh", "-c", _JOIN, "sh", str(self.path / "cgroup.procs"), *argv]

    def oom_killed(self) -> bool:
        """Whether the group's OOM killer ended a process of the run."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            fields = dict(line.split() for line in (self.path / name).read_text().splitlines() if " " in line)
        except OSError:
            return False
        return int(fields.get("oom_kill", "0")) > 0

    def peak_bytes(self) -> int | None:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        """rmdir once the run's last process is gone (the pid namespace takes a moment to die)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)
        log.warning("sandbox: cgroup %s still busy; left behind", self.path)


@lru_cache(maxsize=1)
def _warn_once() -> None:
    log.warning("sandbox: no writable memory cgroup; a run's processes are limited one by one only")
