"""`fovea ARGS` in a process of its own, forked from an interpreter that has already imported the CLI.

A unit test of the command line wants what a user gets from `python -m fovea_ctl ARGS`: its own process (its
exit code, stdout and stderr as written, `os._exit`, its signal handlers, nothing shared with the test's
interpreter), but not the 0.3-0.5 s each fresh interpreter spends importing typer, pydantic and fovea_ctl:
nearly all of a typical run, and this tier runs the CLI about 25 times. A server process (`python -m
tests.unit.warm_cli`, started once per test session) imports fovea_ctl's modules, then forks a child per run that
takes the environment, working folder and standard streams the test gives and calls `fovea_ctl.cli.main`, as the
`fovea` script and `python -m fovea_ctl` do. What only a fresh interpreter shows (which modules a command
imports) is still tested with `python -m fovea_ctl` (test_render_k8s.py).

Not multiprocessing's forkserver: each of its children re-imports the parent's `__main__` (pytest), which
costs what this saves.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _exit_code(exc: SystemExit) -> int:
    """The interpreter's rule for an uncaught SystemExit."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    sys.stderr.write(f"{exc.code}\n")
    return 1


def _run_in_child(args: list[str], env: dict[str, str], stdin: str, stdout: str, stderr: str) -> int:
    import fovea_ctl.cli

    os.environ.clear()
    os.environ.update(env)
    for fd, path, flags in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY), (2, stderr, os.O_WRONLY)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  (not the server's: it may hold the request pipe's read-ahead)
    sys.argv = ["fovea", *args]
    try:
        fovea_ctl.cli.main()
        return 0
    except SystemExit as exc:
        return _exit_code(exc)
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        return 1


def serve() -> None:
    """Answer each request line (JSON) with the child's pid, then with its exit code, one JSON line each."""
    import importlib
    import pkgutil

    import fovea_ctl
    import fovea_ctl.cli

    # First the commands, registered in the order `main` imports their modules (the order of `--help` and of
    # completion): one `fovea --version` does exactly that.
    sys.argv = ["fovea", "--version"]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            fovea_ctl.cli.main()
        except SystemExit:
            pass
    # Then every module of fovea_ctl (0.6 s once): the commands import theirs when they run, pydantic's and the
    # project's included, and that is most of a run's time. `__main__` would run the CLI.
    for module in pkgutil.walk_packages(fovea_ctl.__path__, f"{fovea_ctl.__name__}."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _run_in_child(**request)
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (BrokenPipeError, ValueError):
                        pass
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


class _Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, cwd=ROOT)
        atexit.register(self.stop)

    def stop(self) -> None:
        """End of input ends the server; waited for, so that no process outlives the session."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)

    def ask(self, request: dict[str, Any], timeout: float) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = json.loads(self._line(60))["pid"]
        try:
            return int(json.loads(self._line(timeout))["returncode"])
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self._line(60)
            raise

    def _line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            raise TimeoutError
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm CLI server exited ({self.process.wait()}); its error is above")
        return line


_server: _Server | None = None


def run_fovea(args: list[str], env: Mapping[str, str] | None = None, timeout: float = 60,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Like tests.conftest.run_fovea (same arguments and answer, run in ROOT); `env` None means this process's."""
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = _Server()
    with tempfile.TemporaryDirectory(prefix="fovea-cli-") as folder:
        streams = [Path(folder) / name for name in ("stdin", "stdout", "stderr")]
        streams[0].write_text(stdin or "")
        for stream in streams[1:]:
            stream.touch()
        request = {"args": args, "env": dict(os.environ if env is None else env),
                   **{stream.name: str(stream) for stream in streams}}
        try:
            code = _server.ask(request, timeout)
        except TimeoutError:
            raise subprocess.TimeoutExpired(["fovea", *args], timeout) from None
        return subprocess.CompletedProcess(["fovea", *args], code, streams[1].read_text(), streams[2].read_text())


if __name__ == "__main__":
    serve()
