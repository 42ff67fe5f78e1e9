"""The worker: the only process that imports the student's solution.py. Started by `client.py`.

It confines itself (limits.py), sends its stdout and stderr to the grader's capture pipe, imports
the solution, answers one hello frame, then answers requests until its request pipe closes.
"""
from __future__ import annotations

import faulthandler
import importlib
import json
import os
import sys
import time

from . import limits, protocol
from .dispatch import Dispatcher, describe_call
from .errors import describe_exception
from .handle import load_module
from .import_policy import ImportPolicy

# Imported before the privilege drop, so the student can use them even where the sandbox user
# cannot read the Python installation.
BASE_PRELOAD = ["numpy", "math", "random", "time", "copy", "collections", "itertools", "functools",
                "typing", "dataclasses", "json", "warnings", "abc", "re", "string", "operator",
                "traceback", "linecache", "numpy.linalg", "numpy.random", "numpy.lib.stride_tricks"]


# Reported to the instructor (and in the item's feedback), never trusted for a verdict.
AUDITED = {"socket.connect": "opened a network connection", "socket.bind": "listened on a network port",
           "socket.sendto": "sent network packets", "subprocess.Popen": "started a program",
           "os.system": "ran a shell command", "os.exec": "replaced the process with a program",
           "os.posix_spawn": "started a program", "os.fork": "forked the process",
           "os.kill": "sent a signal", "ctypes.dlopen": "loaded a C library through ctypes"}
EVENTS: list[str] = []


def _audit(event: str, args) -> None:
    if event in AUDITED and len(EVENTS) < 20:
        try:
            detail = ", ".join(repr(a)[:60] for a in args[:2]) if isinstance(args, tuple) else ""
        except Exception:
            detail = ""
        EVENTS.append(f"{AUDITED[event]} ({event}({detail}))")


def _read_exact(fd: int, n: int) -> bytearray | None:
    """Reads into one writable buffer, so that arrays received are writable views, not copies."""
    buffer, filled = bytearray(n), 0
    view = memoryview(buffer)
    while filled < n:
        got = os.readv(fd, [view[filled:filled + (1 << 20)]])
        if not got:
            return None
        filled += got
    return buffer


def _write_all(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


class Channel:
    def __init__(self, req_fd: int, resp_fd: int, max_bytes: int):
        self.req_fd, self.resp_fd, self.max_bytes = req_fd, resp_fd, max_bytes
        self.owner = os.getpid()
        self.tensor = None  # protocol.Tensor -> torch tensor, for PyTorch assignments

    def _only_the_worker(self) -> None:
        """A process forked by the student's code that returns here must not speak on the protocol."""
        if os.getpid() != self.owner:
            os._exit(0)

    def receive(self):
        self._only_the_worker()
        prefix = _read_exact(self.req_fd, 8)
        if prefix is None:
            return None
        body = _read_exact(self.req_fd, protocol.frame_length(prefix, max_bytes=self.max_bytes))
        return None if body is None else protocol.decode(body, tensor=self.tensor)

    def send(self, response: dict, register=None, where: str = "") -> None:
        self._only_the_worker()
        _flush_output()
        try:
            parts = protocol.encode_parts(response, register=register, max_bytes=self.max_bytes)
        except (protocol.ProtocolError, RecursionError, TypeError, ValueError) as exc:
            parts = protocol.encode_parts({"error": {
                "where": where, "type": "UnsendableResult",
                "message": f"the value returned cannot be sent to the grader: {exc}", "traceback": ""}},
                max_bytes=self.max_bytes)
        for part in parts:
            _write_all(self.resp_fd, part)


def _python_paths() -> list[str]:
    """Where this interpreter and its packages live (to keep them readable by the sandbox user)."""
    import site
    import sysconfig
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(sysconfig.get_paths().values())
    paths.update(site.getsitepackages())
    return sorted(p for p in paths if p)


def main(config_json: str) -> None:
    config = json.loads(config_json)
    channel = Channel(config["req_fd"], config["resp_fd"], config["max_bytes"])
    conf = limits.Confinement(**config["confinement"])
    notes: list[str] = []

    for name in BASE_PRELOAD + config.get("preload", []):
        try:
            importlib.import_module(name)
        except Exception:
            pass

    bridge, cuda = None, False
    if config.get("torch"):
        from . import torch_bridge as bridge
        bridge.setup(threads=int(config["torch"].get("threads", 1)))
        channel.tensor = bridge.to_torch
        cuda = bridge.cuda_available()
        if cuda:
            notes.append("a CUDA device is present: the worker's memory limit applies to its data segment, "
                         "not its address space (CUDA reserves large unused ranges)")

    as_root = limits.can_drop_privileges() and config.get("drop_privileges", True)
    solution = config["solution"]
    workdir = os.path.dirname(solution)
    if as_root:
        files = {name: open(os.path.join(workdir, name), "rb").read() for name in os.listdir(workdir)
                 if os.path.isfile(os.path.join(workdir, name))}  # not caches made by torch's import
        limits.die_with_parent()
        notes += limits.enter_namespaces(conf)
        pid = os.fork()
        if pid:
            limits.relay_exit(pid, [config["req_fd"], config["resp_fd"], config["out_fd"]])
        notes += limits.isolate_filesystems(conf, expose=_python_paths(), workdir=workdir, files=files)
        limits.give_to_sandbox_user(conf, workdir)
        limits.drop_privileges(conf)
        stdlib = os.path.dirname(os.__file__)
        if not os.access(stdlib, os.R_OK | os.X_OK):
            notes.append(f"the sandbox user cannot read the Python installation ({stdlib}): modules "
                         "not preloaded by the grader cannot be imported by solution.py")
    channel.owner = os.getpid()  # the child of the namespace fork is the worker from here on
    notes += limits.apply_rlimits(conf, as_sandbox_user=as_root, cuda=cuda)
    limits.die_with_parent()

    os.dup2(config["out_fd"], 1)
    os.dup2(config["out_fd"], 2)
    os.close(config["out_fd"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout.reconfigure(line_buffering=True)
    faulthandler.enable(file=sys.stderr)

    os.chdir(workdir)
    project_root = config.get("project_root")
    sys.path[:] = [workdir] + [p for p in sys.path if p and not (
        project_root and os.path.abspath(p).startswith(project_root))]
    sys.addaudithook(_audit)  # cannot be removed from Python code
    if config.get("allowed") is not None or config.get("forbidden"):
        sys.meta_path.insert(0, ImportPolicy(config.get("allowed"), config.get("forbidden", []),
                                             config.get("forbidden_rule", "")))
    for name in list(sys.modules):  # the grader's own modules are not the student's to use
        if name == "grader" or name.startswith("grader."):
            sys.modules.pop(name, None)

    start = time.monotonic()
    try:
        module = load_module(solution, "solution")
    except BaseException as exc:  # noqa: B036 - a SystemExit at import is the student's error
        channel.send({"error": describe_exception(exc, solution, "importing solution.py")})
        return
    sys.modules["solution"] = module
    channel.send({"ok": {"notes": notes, "import_seconds": time.monotonic() - start}})

    dispatcher = Dispatcher(module, solution, events=EVENTS, to_wire=bridge and bridge.from_torch,
                            extensions=bridge and bridge.operations)
    while True:
        try:
            request = channel.receive()
        except protocol.ProtocolError as exc:
            channel.send({"error": {"where": "worker", "type": "ProtocolError", "message": str(exc),
                                    "traceback": ""}})
            continue
        if request is None:
            return
        response = dispatcher.handle(request)
        channel.send(response, register=dispatcher.register, where=describe_call(request))


if __name__ == "__main__":
    main(sys.argv[1])
