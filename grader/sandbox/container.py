"""The memory cgroup the grader runs in (a Gradescope container: 768 MB by default), v1 or v2.

The grader reads its limit to size the worker's memory below what the container has left, and its
OOM-kill counter to tell a worker killed by the kernel (the container ran out) from one that ended
by itself. Nothing here writes to a cgroup; where there is none, or it cannot be read, the worker
keeps the rubric's limit only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MB = 2**20
UNLIMITED = 2**60     # v1 writes "unlimited" as a huge page-rounded number, v2 as "max"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _fields(path: Path) -> dict[str, int]:
    """A file of `key value` lines (memory.stat, memory.events, memory.oom_control)."""
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    root: Path        # the hierarchy's mount point: limits are searched from `path` up to it
    version: int

    def limit_bytes(self) -> int | None:
        """The smallest limit of this cgroup and its ancestors (a child cannot use more than its parent)."""
        name = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
        limits, folder = [], self.path
        while True:
            value = _read_int(folder / name)
            if value is not None and value < UNLIMITED:
                limits.append(value)
            if folder == self.root or folder == folder.parent:
                break
            folder = folder.parent
        return min(limits) if limits else None

    def anonymous_bytes(self) -> int:
        """Memory in use that the kernel cannot reclaim by dropping file pages (page cache excluded)."""
        stat = _fields(self.path / "memory.stat")
        if self.version == 1:
            return stat.get("total_rss", stat.get("rss", 0)) + stat.get("total_shmem", stat.get("shmem", 0))
        return stat.get("anon", 0) + stat.get("shmem", 0)

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup so far."""
        if self.version == 2:
            return _fields(self.path / "memory.events").get("oom_kill", 0)
        control = _fields(self.path / "memory.oom_control")
        if "oom_kill" in control:
            return control["oom_kill"]
        return _read_int(self.path / "memory.failcnt") or 0   # kernels before 4.13: the limit was hit


def memory_cgroup(proc_cgroup: str = "/proc/self/cgroup", mount: str = "/sys/fs/cgroup") -> MemoryCgroup | None:
    """This process's memory cgroup: v1's `memory` controller where it is mounted, else v2's."""
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    entries = [line.split(":", 2) for line in lines if line.count(":") >= 2]
    base = Path(mount)
    for _, controllers, rel in entries:
        if "memory" in controllers.split(","):
            root = base / "memory"
            path = root / rel.lstrip("/")
            if (path / "memory.limit_in_bytes").is_file():
                return MemoryCgroup(path, root, 1)
    for hierarchy, controllers, rel in entries:
        if hierarchy == "0" and controllers == "":
            for root in (base, base / "unified"):
                path = root / rel.lstrip("/")
                if (path / "memory.max").is_file() or (path / "memory.events").is_file():
                    return MemoryCgroup(path, root, 2)
    return None
