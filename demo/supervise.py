"""The demo's process manager: render supervisord's config from a template, run it, stop it gracefully."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parent / "supervisord.conf.in"
PROGRAMS = ("site", "projector", "bugbot", "celery")
# Above every program's stopwaitsecs in the template: supervisord kills a laggard itself first.
STOP_TIMEOUT_S = 45.0


def render(var_dir: Path, repo: Path, host: str, port: int, python: str = sys.executable,
           template: Path = TEMPLATE) -> Path:
    """Write var_dir/supervisord.conf from the template; returns its path."""
    (var_dir / "log").mkdir(parents=True, exist_ok=True)
    text = Template(template.read_text()).substitute(var=var_dir, repo=repo, host=host, port=port, python=python)
    path = var_dir / "supervisord.conf"
    path.write_text(text)
    return path


def start(conf: Path, env: dict[str, str]) -> subprocess.Popen:
    """supervisord in the foreground (-n), in this process group so a terminal's Ctrl-C reaches it too."""
    return subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf)], env=env)


def stop(proc: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
    """SIGTERM (supervisord passes on each program's own stop signal), wait, then SIGKILL; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def ctl(conf: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """supervisorctl against the demo's supervisord (e.g. `status`)."""
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), *args], env=env,
                          capture_output=True, text=True, timeout=30)
