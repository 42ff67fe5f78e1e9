"""Confinement of the worker, applied by the worker to itself before any student code runs.

- resource limits: address space, file size, no core dumps, and (as the sandbox user) processes;
- when started as root: a private mount namespace in which the grader's protected paths (project,
  reference, rubrics, results, data sets) are covered by empty read-only file systems, no network,
  then the unprivileged sandbox user (`nobody` by default) with no supplementary groups.
Each step that the platform refuses is reported as a note rather than aborting grading. Namespaces
and the privilege drop are Linux's, and `pwd` and `resource` are Unix's: where they are missing (a
student's laptop on macOS or Windows, where the self-check is no security boundary) the worker runs
without them and says so.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field

try:
    import pwd
    import resource
except ImportError:  # not Unix
    pwd = resource = None

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1


@dataclass
class Confinement:
    memory_mb: int = 2048
    container_mb: int | None = None  # what the container leaves the worker (client.py): its data segment's limit
    file_size_mb: int = 64
    max_processes: int = 64
    cpu_seconds: int = 3600          # per process: a backstop for what escapes the item time limits
    user: str = "nobody"
    protected_paths: list[str] = field(default_factory=list)
    network: bool = False
    scratch_mb: int = 64             # each private /tmp, /var/tmp, /dev/shm (tmpfs: counted in memory)


def _libc():
    return ctypes.CDLL(None, use_errno=True)  # OSError on Windows: callers note or skip what needs it


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _blocked_ancestor(path: str) -> str | None:
    """The highest folder on the way to `path` that other users cannot traverse, if any."""
    parts = os.path.realpath(path).split(os.sep)[1:]
    current = ""
    for part in parts:
        current += os.sep + part
        try:
            if os.path.isdir(current) and not os.stat(current).st_mode & 0o001:
                return current
        except OSError:
            return None
    return None


def expose_to_sandbox(paths: list[str], libc) -> list[str]:
    """Makes `paths` (the Python installation) reachable for the sandbox user inside the private mount
    namespace: each blocked ancestor (say /root, mode 700, holding pyenv) is covered by a tmpfs that
    holds only the way down to those paths, bind-mounted back. Everything else there stays hidden."""
    notes, groups = [], {}
    for path in sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)}):
        ancestor = _blocked_ancestor(path)
        if ancestor and not any(path.startswith(other + os.sep) for other in groups.get(ancestor, [])):
            groups.setdefault(ancestor, []).append(path)
    for ancestor, inner in groups.items():
        staged = []
        try:
            for path in inner:
                stage = tempfile.mkdtemp(prefix="grader-stage-")
                _check(libc.mount(path.encode(), stage.encode(), None, MS_BIND | MS_REC, None), f"bind {path}")
                staged.append((path, stage))
            _check(libc.mount(b"tmpfs", ancestor.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=755"),
                   f"cover {ancestor}")
            for path, stage in staged:
                os.makedirs(path, mode=0o755, exist_ok=True)
                _check(libc.mount(stage.encode(), path.encode(), None, MS_BIND | MS_REC, None), f"expose {path}")
        except OSError as exc:
            notes.append(f"could not expose {ancestor} to the sandbox user ({exc})")
        finally:
            for _, stage in staged:
                libc.umount2(stage.encode(), MNT_DETACH)
                with contextlib.suppress(OSError):
                    os.rmdir(stage)
    return notes


def enter_namespaces(conf: Confinement) -> list[str]:
    """As root: new mount, network, IPC and PID namespaces, then a fork. The parent only relays the
    child's end to the grader (see `relay_exit`); the child, PID 1 of its namespace, goes on. When it
    ends, the kernel kills every process left in the namespace: no daemon outlives the worker.
    Returns notes; ("parent", pid) or ("child", None) through `fork_into_namespace`."""
    libc = _libc()
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | (0 if conf.network else CLONE_NEWNET)
    if libc.unshare(flags) == 0:
        return []
    if libc.unshare(flags & ~CLONE_NEWPID & ~CLONE_NEWIPC) == 0:
        return ["the worker could not enter a PID namespace: processes it starts may outlive it"]
    errno = ctypes.get_errno()
    return [f"the worker could not enter private namespaces ({os.strerror(errno)}); protected paths rely on "
            "file permissions and the network is not removed"]


def relay_exit(pid: int, fds: list[int]) -> None:
    """The parent after the fork: closes the protocol's ends (so the grader sees the child's end at
    once), waits, and ends the same way as the child. Never returns."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL's handler cannot be set (nor needs to be)
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _hold(paths: list[str], covers: list[str]) -> dict[str, int]:
    """The Python paths (a virtual environment, its packages) that lie in a folder about to be covered
    (a private /tmp, a protected project), each held by a descriptor that outlives the cover."""
    inside = sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)
                     and any(_under(os.path.realpath(p), os.path.realpath(c)) for c in covers)})
    held = {}
    for path in inside:
        if not any(_under(path, other) for other in held):  # the outermost of nested ones
            with contextlib.suppress(OSError):
                held[path] = os.open(path, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)
    return held


def _put_back(held: dict[str, int], libc) -> list[str]:
    """Mounts each held path back where it was, over the cover: only that path, nothing beside it."""
    notes = []
    for path, fd in held.items():
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _check(libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None),
                   f"keep {path}")
        except OSError as exc:
            notes.append(f"the Python environment at {path} is hidden from solution.py ({exc}): the packages "
                         "installed there cannot be imported; install the grader outside /tmp and the project")
        finally:
            os.close(fd)
    return notes


def isolate_filesystems(conf: Confinement, *, expose: list[str], workdir: str, files: dict[str, bytes]) -> list[str]:
    """As root, inside the new mount namespace (and as PID 1 of the new PID namespace): a /proc of the
    worker's own processes; the Python installation reachable; private size-capped scratch folders
    (the worker's folder rebuilt there with `files`); the protected paths covered. Returns notes."""
    libc = _libc()
    notes = []
    try:
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    except OSError as exc:
        return [str(exc)]
    # An environment in /tmp or in the project would vanish under the covers below: hold it first.
    held = _hold(expose, [d for d in SCRATCH_DIRS if os.path.isdir(d)] + list(conf.protected_paths))
    notes += expose_to_sandbox(list(expose), libc)
    with contextlib.suppress(OSError):
        _check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    for scratch in SCRATCH_DIRS:
        if not os.path.isdir(scratch):
            continue
        opts = f"size={conf.scratch_mb}m,mode=1777".encode()
        try:
            _check(libc.mount(b"tmpfs", scratch.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts), f"private {scratch}")
        except OSError as exc:
            notes.append(str(exc))
    if not os.path.isdir(workdir):  # it lived in a scratch folder: rebuild it in the private one
        os.makedirs(workdir, mode=0o700)
        for name, data in files.items():
            with open(os.path.join(workdir, name), "wb") as f:
                f.write(data)
    keeping = []
    for path in conf.protected_paths:
        if not os.path.isdir(path):
            continue
        # Read-only and unreadable; where an environment must come back inside, traversable only (711)
        # and read-only once it is back.
        keep = any(_under(p, os.path.realpath(path)) for p in held)
        opts = MS_NOSUID | MS_NODEV | MS_NOEXEC | (0 if keep else MS_RDONLY)
        try:
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", opts, b"size=4k,mode=711" if keep else
                              b"size=4k,mode=000"), f"hide {path}")
            keeping += [path] if keep else []
        except OSError as exc:
            notes.append(str(exc))
    notes += _put_back(held, libc)
    for path in keeping:
        with contextlib.suppress(OSError):
            _check(libc.mount(b"none", path.encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              None), f"read-only {path}")
    return notes


def give_to_sandbox_user(conf: Confinement, folder: str) -> None:
    entry = pwd.getpwnam(conf.user)
    for root, dirs, names in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + names)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def drop_privileges(conf: Confinement) -> None:
    """Becomes the sandbox user for good (root only)."""
    entry = pwd.getpwnam(conf.user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise RuntimeError("could not drop root privileges")


def apply_rlimits(conf: Confinement, *, as_sandbox_user: bool, cuda: bool = False) -> list[str]:
    """cuda: CUDA reserves tens of GB of address space it never touches, so RLIMIT_AS would make it
    fail; the limit then applies to the data segment (private writable memory) instead. Returns notes
    for the limits this platform refuses (macOS refuses RLIMIT_AS)."""
    if resource is None:
        return ["this platform has no resource limits: memory, CPU time and file sizes are not capped "
                "(the items' time limits still apply)"]
    mb = 2**20
    memory = resource.RLIMIT_DATA if cuda else resource.RLIMIT_AS
    limits = [("memory", memory, conf.memory_mb * mb, conf.memory_mb * mb),
              ("file size", resource.RLIMIT_FSIZE, conf.file_size_mb * mb, conf.file_size_mb * mb),
              ("core dumps", resource.RLIMIT_CORE, 0, 0),
              ("CPU time", resource.RLIMIT_CPU, conf.cpu_seconds, conf.cpu_seconds + 5)]
    if conf.container_mb is not None:
        # The data segment (private writable memory) follows resident memory closely, unlike the address
        # space: its limit keeps the worker inside what the container has left, with a MemoryError.
        data_mb = min(conf.container_mb, conf.memory_mb) if cuda else conf.container_mb
        limits.append(("container memory", resource.RLIMIT_DATA, data_mb * mb, data_mb * mb))
    if as_sandbox_user:
        # Counted per user: only meaningful, and only safe, for the dedicated sandbox user.
        limits.append(("processes", resource.RLIMIT_NPROC, conf.max_processes, conf.max_processes))
    refused = []
    for name, which, soft, hard in limits:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            refused.append(name)
    return [f"this platform refused the {', '.join(refused)} limit(s)"] if refused else []


def can_drop_privileges() -> bool:
    """Root on Linux (with a user database): the worker confines itself with namespaces and drops to
    the sandbox user. Anywhere else it runs as whoever started the grader."""
    return sys.platform.startswith("linux") and pwd is not None and os.geteuid() == 0


def die_with_parent() -> None:
    """Set after the privilege drop, which clears it."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError, TypeError):  # not Linux
        pass


def sandbox_user_ids(user: str = "nobody") -> tuple[int, int] | None:
    """(uid, gid) of the sandbox user when this process is root, else None (no privilege drop)."""
    if not can_drop_privileges():
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid
