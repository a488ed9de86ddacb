"""A child process in its own process group, logging to a file, always killable as a group; polling waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Sequence

POLL_S = 0.1


class WaitTimeout(AssertionError):
    """A condition did not become true before its deadline."""


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, poll_s: float = POLL_S,
             detail: Callable[[], Any] | None = None) -> Any:
    """Poll `check` until it returns something truthy (returned); a check that raises counts as not yet."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:  # the thing polled may be down: that is what we wait out
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            try:
                extra = f"; {detail()}" if detail else ""
            except Exception as exc:
                extra = f"; (no detail: {exc!r})"
            raise WaitTimeout(f"timed out after {timeout_s:g}s waiting for {what} (last: {last!r}){extra}")
        time.sleep(poll_s)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Proc:
    """One long-running child: started in a new session so the whole group can be signalled."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path, log_dir: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "Proc":
        """Start (or start again) the process; its output is appended to its log file."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start #{self.starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        """Send a signal to the process's whole group (its session leader is the process itself)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """kill -9 the group and reap the process."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL what is left after `grace_s`."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # children that outlived their parent
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
            pass

    def tail(self, lines: int = 40) -> str:
        """The end of the log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def run(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout_s: float = 180,
        user: str | None = None) -> str:
    """Run a command to completion (as `user` through runuser when given); its output, or an error with it."""
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    done = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout
