"""deploy/supervisord.conf as written: gunicorn, two run_projector, run_bugbot, a Celery worker and one beat.

The file is run by supervisord with only its socket, pid file and port moved into a temporary directory, on
SQLite and the demo's in-process Redis; a bug filed through gunicorn proves the processes talk to each other,
and SIGTERM must stop every program gracefully (exit status 0).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from contracts.names import Names
from demo import run
from demo.traffic import Site, buggy_invoice, known_bug
from tests.e2e.test_demo_newcomer import FOREIGN, alive, descendants

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "deploy" / "supervisord.conf"
DEADLINE_S = 120.0
PROGRAMS = ("site", "run_projector_00", "run_projector_01", "run_bugbot", "celery_worker", "celery_beat")


def relocated(tmp_path: Path, port: int) -> Path:
    """The deploy file with its socket, pid file, beat schedule and port moved; nothing else changed."""
    text = CONF.read_text()
    assert text.count("127.0.0.1:8000") == 1 and "%(here)s/.." in text
    text = text.replace("/tmp/errortrail-", f"{tmp_path}/").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    text = text.replace("%(here)s/..", str(REPO))
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    return path


def heartbeats(url: str, role: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return sum(1 for _ in client.scan_iter(match=Names().heartbeat_pattern(role)))
    finally:
        client.close()


def test_deploy_supervisord_conf_runs_every_program_and_stops_them_gracefully(tmp_path):
    port = run.free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in FOREIGN and k != "PYTHONPATH" and not k.startswith(("ERRORTRAIL_", "ERROR_", "PYTEST_"))}
    with contextlib.ExitStack() as stack:
        url = run.start_fakeredis(stack).url
        env.update(
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),  # an activated venv
            DJANGO_SETTINGS_MODULE="demo.petclinic.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}",
            DEMO_VAR_DIR=str(tmp_path / "var"), ERRORTRAIL_SPOOL_DIR=str(tmp_path / "spool"),
            ERRORTRAIL_REDIS_URL=url, PYTHONUNBUFFERED="1",
        )
        subprocess.run([sys.executable, "demo/manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env,
                       check=True, timeout=DEADLINE_S)
        log_path = tmp_path / "supervisord.log"
        with log_path.open("w") as log:
            conf = relocated(tmp_path, port)
            proc = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
                                    cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        seen: set[int] = set()

        def wait_for(what, condition):
            for _ in range(int(DEADLINE_S / 0.25)):
                seen.update(descendants(proc.pid))
                if condition():
                    return
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.25)
                    pytest.fail(f"supervisord exited before {what}:\n{log_path.read_text()[-8000:]}")
            pytest.fail(f"no {what} within {DEADLINE_S:.0f} s:\n{log_path.read_text()[-8000:]}")

        try:
            site = Site(f"http://127.0.0.1:{port}")
            wait_for("gunicorn serving the site", site.answers)
            wait_for("two projector and one bugbot heartbeats",
                     lambda: heartbeats(url, "projector") == 2 and heartbeats(url, "bugbot") == 1)
            wait_for("the Celery worker and beat", lambda: all(
                line in log_path.read_text() for line in ("worker@", " ready.", "beat: Starting...")))

            assert {r.status for r in buggy_invoice(site, 3)} == {500}
            wait_for("B-001 on the page gunicorn serves", lambda: known_bug(site) == "B-001")

            seen.update(descendants(proc.pid))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(DEADLINE_S) == 0
            output = log_path.read_text()
            for program in PROGRAMS:
                assert f"stopped: {program} (exit status 0)" in output, output[-8000:]
            assert [pid for pid in seen if alive(pid)] == []
        finally:
            for pid in {proc.pid} | seen:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
