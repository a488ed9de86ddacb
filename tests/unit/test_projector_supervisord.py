"""deploy/supervisord.conf: the projector stops gracefully, restarts, logs to stdout; bugbot has its slot."""

from __future__ import annotations

import signal
from pathlib import Path

from supervisor.options import ServerOptions

CONF = Path(__file__).resolve().parents[2] / "deploy" / "supervisord.conf"


def programs():
    options = ServerOptions()
    options.configfile = str(CONF)
    options.process_config(do_usage=False)
    return {p.name: p for group in options.process_group_configs for p in group.process_configs}


def test_run_projector_stops_gracefully_restarts_and_logs_to_stdout():
    found = programs()
    assert sorted(found) == ["run_projector_00", "run_projector_01"]  # one active, one hot standby
    for name, program in found.items():
        assert program.command.startswith("python manage.py run_projector --consumer ")
        assert program.command.endswith(name[-2:])  # a stable consumer name per process
        assert program.stopsignal == signal.SIGTERM and program.stopwaitsecs >= 10
        assert program.stopasgroup and program.killasgroup and program.autorestart
        assert program.stdout_logfile == "/dev/stdout" and program.stdout_logfile_maxbytes == 0
        assert program.stderr_logfile == "/dev/stderr" and program.stderr_logfile_maxbytes == 0


def test_bugbot_has_a_commented_slot():
    text = CONF.read_text()
    assert ";[program:run_bugbot]" in text and ";command=python manage.py run_bugbot" in text
