"""The grader's side of the sandbox: starts the worker, talks to it under deadlines, captures its
output, kills and restarts it. `RemoteHandle` is what the checks receive for the student's module.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import protocol
from .container import MB, memory_cgroup
from .errors import ImportFailed, PlatformError, SandboxError, StudentError, WorkerDied, WorkerProtocolError, WorkerTimeout
from .dispatch import describe_call
from .handle import TimeLimited
from .limits import Confinement, sandbox_user_ids

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
# Kept free in the container for the grader's growth after the worker starts (a gate restarts the worker
# once its data set is loaded: see `RemoteHandle.fresh_worker`) and the libraries' page cache.
GRADER_RESERVE_MB = 64


@dataclass
class SandboxConfig:
    confinement: Confinement = field(default_factory=Confinement)
    import_timeout_s: float = 30.0
    max_message_mb: int = 256
    output_limit_kb: int = 64
    preload: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    forbidden_rule: str = ""
    allowed: list[str] | None = None  # third-party packages solution.py may import (None: any); see import_policy
    drop_privileges: bool = True
    torch: bool = False          # a PyTorch assignment: the worker loads torch_bridge


class OutputCapture:
    """Keeps the first `limit` bytes of the worker's stdout and stderr, and counts the rest."""

    def __init__(self, limit: int):
        self.limit, self.kept, self.dropped = limit, bytearray(), 0

    def feed(self, data: bytes) -> None:
        room = self.limit - len(self.kept)
        self.kept += data[:max(room, 0)]
        self.dropped += max(len(data) - max(room, 0), 0)

    def take(self) -> tuple[str, int]:
        text, dropped = self.kept.decode("utf-8", "replace"), self.dropped
        self.kept, self.dropped = bytearray(), 0
        return text, dropped


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def death_message(returncode: int | None, where: str, memory_mb: int) -> str:
    if returncode is None:
        return f"the worker stopped answering during {where}"
    if returncode < 0:
        name = _signal_name(-returncode)
        why = {"SIGSEGV": "a crash in C code (for example through ctypes or an out-of-bounds write)",
               "SIGKILL": f"killed, most likely for exceeding the {memory_mb} MB memory limit",
               "SIGXFSZ": "it wrote a file larger than the sandbox allows",
               "SIGXCPU": "it used up its CPU time limit",
               "SIGABRT": "an abort in C code"}.get(name, "a signal")
        return f"the worker process died with {name} during {where}: {why}"
    return (f"the worker process exited with status {returncode} during {where}: solution.py must not "
            "end the process (os._exit, or a crash)")


class WorkerProcess:
    """One worker process for one solution file; `exchange` sends a request and waits for the reply."""

    def __init__(self, solution: Path, config: SandboxConfig):
        self.config = config
        self.max_bytes = config.max_message_mb * 2**20
        self.capture = OutputCapture(config.output_limit_kb * 1024)
        self.ids = sandbox_user_ids(config.confinement.user) if config.drop_privileges else None
        self.workdir = Path(tempfile.mkdtemp(prefix="grader-work-"))
        self.solution = self.workdir / "solution.py"
        shutil.copyfile(solution, self.solution)
        if self.ids:
            os.chown(self.workdir, *self.ids)
            os.chown(self.solution, *self.ids)
        os.chmod(self.workdir, 0o700)
        self.proc: subprocess.Popen | None = None
        self.req = self.resp = self.out = -1
        self.notes: list[str] = []
        self.cgroup = memory_cgroup()
        self.container_mb: int | None = None   # the container's limit, where there is one
        self.oom_kills = 0

    @property
    def memory_mb(self) -> int:
        """The most memory the worker may use: the rubric's limit, or less where the container has less left."""
        limit = self.config.confinement.memory_mb
        return min(limit, self.config.confinement.container_mb or limit)

    def _size_to_container(self) -> None:
        """Sets the worker's share of the container: its limit less what is in use now and a reserve."""
        limit = self.cgroup.limit_bytes() if self.cgroup else None
        if limit is None:
            return
        self.container_mb = limit // MB
        share = (limit - self.cgroup.anonymous_bytes()) // MB - GRADER_RESERVE_MB
        self.config.confinement.container_mb = max(share, 64)
        self.oom_kills = self.cgroup.oom_kills()

    def out_of_memory(self, where: str) -> PlatformError | None:
        """A PlatformError when the kernel's OOM killer has struck in this container since the worker started."""
        if self.cgroup is None or self.cgroup.oom_kills() <= self.oom_kills:
            return None
        limit = f"{self.container_mb:,} MB" if self.container_mb else "its limit"
        return PlatformError(
            f"The autograder ran out of memory during {where}: the container it runs in ({limit}) was full and "
            "the system stopped the process running your code. This is an error of the autograder, not of your "
            "code; the course staff can see it and will regrade.",
            f"the kernel's OOM killer ended the worker during {where}: the container's memory ({limit}) was used up "
            f"(the worker's own limit was {self.memory_mb:,} MB, the grader keeps {GRADER_RESERVE_MB} MB for itself). "
            "Give the autograder more memory (Gradescope: the assignment's container size), or lower the rubric's "
            "data.train_size or sandbox.memory_mb.")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, deadline: float) -> None:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        self._size_to_container()
        conf = dict(asdict(self.config.confinement))
        worker_config = {
            "req_fd": req_r, "resp_fd": resp_w, "out_fd": out_w, "solution": str(self.solution),
            "max_bytes": self.max_bytes, "confinement": conf, "preload": self.config.preload,
            "torch": {"threads": 1} if self.config.torch else None,
            "forbidden": self.config.forbidden, "forbidden_rule": self.config.forbidden_rule,
            "allowed": self.config.allowed,
            "project_root": PROJECT_ROOT, "drop_privileges": self.config.drop_privileges,
        }
        boot = (f"import sys; sys.path.insert(0, {PROJECT_ROOT!r}); "
                "from grader.sandbox.worker import main; main(sys.argv[1])")
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.workdir), "TMPDIR": str(self.workdir),
               "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}  # deterministic cuBLAS
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
            # needed on some CPUs and GPU machines; not secrets
            if key in os.environ:
                env[key] = os.environ[key]
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", boot, json.dumps(worker_config)],
            pass_fds=(req_r, resp_w, out_w), env=env, cwd=str(self.workdir),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
        self.req, self.resp, self.out = req_w, resp_r, out_r
        for fd in (self.req, self.resp, self.out):
            os.set_blocking(fd, False)
        self.selectors = {}
        for mode, fd, event in (("write", self.req, selectors.EVENT_WRITE), ("read", self.resp, selectors.EVENT_READ)):
            sel = selectors.DefaultSelector()
            sel.register(self.out, selectors.EVENT_READ, "out")
            sel.register(fd, event, "req" if mode == "write" else "resp")
            self.selectors[mode] = sel
        import_deadline = min(deadline, time.monotonic() + self.config.import_timeout_s)
        try:
            hello = self._receive(import_deadline, "importing solution.py")
        except WorkerTimeout as exc:
            raise ImportFailed(f"importing solution.py took longer than "
                               f"{min(exc.seconds, self.config.import_timeout_s):g} s (code at module level "
                               "that loops or trains? keep it under `if __name__ == \"__main__\":`)") from None
        except WorkerDied as exc:
            raise ImportFailed(str(exc).replace("during importing", "while importing")) from None
        if "error" in hello:
            e = hello["error"]
            text = f"solution.py could not be imported: {e['type']}: {e['message']}"
            if e.get("traceback"):
                text += "\n" + e["traceback"]
            self.kill()
            raise ImportFailed(text)
        self.notes = list(hello["ok"].get("notes", []))

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.kill()
        self.proc.wait()
        self._drain_output()
        for sel in getattr(self, "selectors", {}).values():
            sel.close()
        self.selectors = {}
        for fd in (self.req, self.resp, self.out):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.req = self.resp = self.out = -1
        self.proc = None

    def close(self) -> None:
        """Ends the worker: first by closing its request pipe, so that it exits and is reaped (its usage
        then counts in this process's RUSAGE_CHILDREN), then by force."""
        if self.proc is not None and self.proc.poll() is None and self.req >= 0:
            with contextlib.suppress(OSError):
                os.close(self.req)
            self.req = -1
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def exchange(self, message: dict, deadline: float, where: str) -> dict:
        parts = protocol.encode_parts(message, max_bytes=self.max_bytes)
        if sum(len(p) for p in parts) < 1 << 20:    # small: one write; large: the arrays are not copied
            parts = [b"".join(bytes(p) for p in parts)]
        for part in parts:
            self._send(part, deadline, where)
        return self._receive(deadline, where)

    def _drain_output(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                chunk = os.read(self.out, 1 << 16)
                if not chunk:
                    return
                self.capture.feed(chunk)

    def _wait(self, deadline: float, where: str, writing: memoryview | None, want: int):
        """Writes `writing` or reads up to `want` bytes of the reply, pumping the output meanwhile.
        The direct attempt comes first: most messages fit the pipe and most replies are quick."""
        while True:
            try:
                if writing is not None:
                    return os.write(self.req, writing[:1 << 20])
                chunk = os.read(self.resp, want)
                return chunk if chunk else self._died(where)
            except BlockingIOError:
                pass
            except BrokenPipeError:
                return self._died(where)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seconds = getattr(self, "_limit", 0)
                self.kill()
                raise WorkerTimeout(where, seconds)
            for key, _ in self.selectors["write" if writing is not None else "read"].select(min(remaining, 1.0)):
                if key.data == "out":
                    try:
                        chunk = os.read(self.out, 1 << 16)
                    except BlockingIOError:
                        continue
                    if chunk:
                        self.capture.feed(chunk)
                    else:   # every writer of the output is gone: stop watching it
                        for sel in self.selectors.values():
                            if self.out in sel.get_map():
                                sel.unregister(self.out)
            if writing is not None and self.proc.poll() is not None:
                return self._died(where)

    def _died(self, where: str):
        code = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = self.proc.wait(timeout=2)
        self.kill()
        oom = self.out_of_memory(where) if code in (None, -signal.SIGKILL) else None
        if oom:
            raise oom
        raise WorkerDied(death_message(code, where, self.memory_mb))

    def _send(self, frame, deadline: float, where: str) -> None:
        view = memoryview(frame).cast("B")
        while view:
            view = view[self._wait(deadline, where, view, 0):]

    def _receive_exact(self, n: int, deadline: float, where: str) -> bytearray:
        buffer, filled = bytearray(n), 0
        while filled < n:
            chunk = self._wait(deadline, where, None, min(n - filled, 1 << 20))
            buffer[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        return buffer

    def _receive(self, deadline: float, where: str) -> dict:
        try:
            length = protocol.frame_length(self._receive_exact(8, deadline, where), max_bytes=self.max_bytes)
            response = protocol.decode(self._receive_exact(length, deadline, where))
        except protocol.ProtocolError as exc:
            self.kill()
            raise WorkerProtocolError(f"the worker sent an invalid reply during {where}: {exc}") from None
        self._drain_output()
        if not isinstance(response, dict) or not ({"ok", "error"} & response.keys()):
            self.kill()
            raise WorkerProtocolError(f"the worker sent an invalid reply during {where}")
        return response


class RemoteHandle(TimeLimited):
    """The student's module in the worker. Restarts the worker after a crash or a timeout; an
    import failure is remembered and raised again for every later request."""

    label = "solution"

    def __init__(self, solution: str | Path, config: SandboxConfig):
        self.worker = WorkerProcess(Path(solution), config)
        self.deadline = time.monotonic() + 3600
        self.limit_s = 3600.0
        self.import_failure: ImportFailed | None = None
        self.starts = 0

    def ensure_started(self) -> None:
        if self.import_failure:
            raise self.import_failure
        if not self.worker.alive:
            self.worker._limit = self.limit_s
            self.starts += 1
            try:
                self.worker.start(self.deadline)
            except ImportFailed as exc:
                self.import_failure = exc
                raise

    def _exchange(self, message: dict) -> dict:
        self.ensure_started()
        self.worker._limit = self.limit_s
        where = describe_call(message)
        if message.get("op") != "put":
            return self.worker.exchange(message, self.deadline, where)
        try:
            response = self.worker.exchange(message, self.deadline, where)
        except PlatformError:
            raise
        except SandboxError as exc:
            raise self._sending_failed(message, str(exc)) from None
        if "error" in response:
            self.worker.kill()
            e = response["error"]
            raise self._sending_failed(message, f"{e.get('type')}: {e.get('message')}")
        return response

    def _sending_failed(self, message: dict, why: str) -> PlatformError:
        value = message.get("value")
        what = (f"an array of {' x '.join(map(str, value.shape))} ({value.nbytes / MB:,.0f} MB as sent)"
                if hasattr(value, "shape") else "data")
        return PlatformError(
            f"The autograder failed while it was sending your code {what}: {why}. This is an error of the "
            "autograder, not of your code; the course staff can see it and will regrade.",
            f"the worker failed while the grader sent it {what} ({why}); the worker's memory limit was "
            f"{self.worker.memory_mb:,} MB. Give the autograder more memory (Gradescope: the assignment's container "
            "size), or raise the rubric's sandbox.memory_mb or lower data.train_size.")

    def request(self, message: dict):
        try:
            return super().request(message)
        except StudentError as exc:
            if exc.type == "MemoryError":
                exc.memory_mb = self.worker.memory_mb
            raise

    def fresh_worker(self) -> None:
        """In a container with a memory limit: ends the worker, so that the next call starts one sized to
        what the container has left now (after the grader has loaded a data set and its checks' imports)."""
        if self.worker.alive and self.worker.cgroup and self.worker.cgroup.limit_bytes() is not None:
            self.worker.kill()

    def take_events(self) -> list[str]:
        """What the student's code attempted that the sandbox audits (network, programs, signals...)."""
        if not self.worker.alive:
            return []
        try:
            with self.time_limit(5):
                events = self.request({"op": "events"})
        except Exception:
            return []
        return [str(e)[:300] for e in events][:20] if isinstance(events, list) else []

    def take_output(self) -> tuple[str, int]:
        if self.worker.proc is not None:
            self.worker._drain_output()
        return self.worker.capture.take()

    def notes(self) -> list[str]:
        return self.worker.notes

    def close(self) -> None:
        self.worker.close()
