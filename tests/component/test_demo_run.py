"""demo/run.py's pieces: arguments, environment, the first-start traffic marker, heartbeats, the banner,
start-up failures, and demo/supervise.py's stop."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from contracts.names import Names
from demo import run, supervise


def test_parse_args_reads_the_environment():
    args = run.parse_args([], {"DEMO_PORT": "9001", "DEMO_REDIS": "fakeredis", "DEMO_TRAFFIC": "never"})
    assert (args.port, args.redis, args.traffic) == (9001, "fakeredis", "never")
    args = run.parse_args(["--port", "9002", "--traffic", "always"], {})
    assert (args.port, args.redis, args.traffic) == (9002, "auto", "always")
    with pytest.raises(SystemExit):
        run.parse_args(["--traffic", "sometimes"], {})


def test_site_environment_points_every_process_at_the_demo(tmp_path):
    choice = run.RedisChoice("redis://127.0.0.1:1/0", "test")
    env = run.site_environment({"PYTHONPATH": "/elsewhere", "KEEP": "1"}, choice, tmp_path)
    assert env["PYTHONPATH"] == os.pathsep.join([str(run.REPO), "/elsewhere"])
    assert (env["DJANGO_SETTINGS_MODULE"], env["ERRORTRAIL_REDIS_URL"]) == (run.SETTINGS, choice.url)
    assert env["DEMO_VAR_DIR"] == str(tmp_path) and env["KEEP"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert run.site_environment({}, choice)["PYTHONPATH"] == str(run.REPO)
    assert run.var_directory({}) == (run.DEMO / "var").resolve()
    assert run.var_directory({"DEMO_VAR_DIR": str(tmp_path)}) == tmp_path.resolve()


def test_traffic_runs_on_the_first_start_only(tmp_path):
    assert run.wants_traffic("never", tmp_path) is False and not (tmp_path / "traffic.started").exists()
    assert run.wants_traffic("first", tmp_path) is True
    assert run.wants_traffic("first", tmp_path) is False
    assert run.wants_traffic("always", tmp_path) is True


def test_the_banner_names_the_urls_the_login_and_the_tracker():
    choice = run.RedisChoice("redis://127.0.0.1:6379/0", "from the environment")
    text = run.banner(8123, ("vet", "pw-123456"), choice, {"DEMO_VAR_DIR": "/v"})
    assert "site          http://127.0.0.1:8123/" in text and "dashboard     http://127.0.0.1:8123/errors/" in text
    assert "staff login   http://127.0.0.1:8123/admin/   user vet  password pw-123456" in text
    assert "bug tracker   local" in text and "logs in /v/log/" in text and "Press Ctrl-C to stop." in text
    github = run.banner(8123, ("vet", "pw"), choice, {"GITHUB_TOKEN": "ghp_not_shown", "GITHUB_REPO": "o/r"})
    assert "bug tracker   github (o/r)" in github and "ghp_not_shown" not in github
    forced = {"GITHUB_TOKEN": "x", "GITHUB_REPO": "o/r", "ERRORTRAIL_BUG_BACKEND": "local"}
    assert "bug tracker   local" in run.banner(8123, ("vet", "pw"), choice, forced)
    gh = {**forced, "ERRORTRAIL_BUG_BACKEND": "gh"}
    assert "bug tracker   gh (o/r)" in run.banner(8123, ("vet", "pw"), choice, gh)


def test_consumers_beating_needs_both_heartbeats(tcp_fakeredis):
    names, client = Names(prefix="demo-run-test:"), redis.Redis.from_url(tcp_fakeredis)
    assert not run.consumers_beating(tcp_fakeredis, "demo-run-test:")
    client.hset(names.heartbeat("projector", "p1"), "state", "active")
    assert not run.consumers_beating(tcp_fakeredis, "demo-run-test:")
    client.hset(names.heartbeat("bugbot", "b1"), "state", "active")
    assert run.consumers_beating(tcp_fakeredis, "demo-run-test:")
    assert not run.consumers_beating(f"redis://127.0.0.1:{run.free_port()}/0", "demo-run-test:")


@pytest.fixture
def tcp_fakeredis():
    with contextlib.ExitStack() as stack:
        yield run.start_fakeredis(stack).url


def test_a_taken_port_stops_the_demo_before_anything_starts(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert run.main(["--port", str(port), "--redis", "fakeredis"]) == 1
    assert f"Port {port} is taken" in capsys.readouterr().err


def test_a_failing_step_is_reported_not_raised(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEMO_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "mysql://nobody@127.0.0.1/clinic")  # the settings refuse it
    assert run.main(["--port", str(run.free_port()), "--redis", "fakeredis", "--traffic", "never"]) == 1
    assert "The demo could not start" in capsys.readouterr().err


def test_supervise_stop_kills_a_program_that_ignores_sigterm():
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, sys, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
                                 "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout.readline().strip() == "ready"
    assert supervise.stop(stubborn, timeout_s=0.5) == -9
    assert supervise.stop(stubborn) == -9  # already stopped: nothing to do


def test_supervisorctl_reaches_nothing_without_supervisord(tmp_path):
    conf = supervise.render(tmp_path, run.REPO, "127.0.0.1", run.free_port())
    result = supervise.ctl(conf, dict(os.environ), "status")
    assert result.returncode != 0 and Path(conf).exists()
