"""deploy/supervisord.conf: the projector stops gracefully, restarts, logs to stdout; bugbot has its program."""

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
    found = {name: p for name, p in programs().items() if name.startswith("run_projector")}
    assert sorted(found) == ["run_projector_00", "run_projector_01"]  # one active, one hot standby
    for name, program in found.items():
        assert program.command.startswith("python demo/manage.py run_projector --consumer ")
        assert program.command.endswith(name[-2:])  # a stable consumer name per process
        assert program.stopsignal == signal.SIGTERM and program.stopwaitsecs >= 10
        assert program.stopasgroup and program.killasgroup and program.autorestart
        assert program.stdout_logfile == "/dev/stdout" and program.stdout_logfile_maxbytes == 0
        assert program.stderr_logfile == "/dev/stderr" and program.stderr_logfile_maxbytes == 0


def test_bugbot_has_its_program():
    bugbot = programs()["run_bugbot"]
    assert bugbot.command.startswith("python demo/manage.py run_bugbot --consumer ")
    assert bugbot.stopsignal == signal.SIGTERM and bugbot.autorestart
