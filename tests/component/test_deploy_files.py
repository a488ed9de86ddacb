"""The production files: docker-compose.yml (validated by docker compose where it runs, and by structure),
the Dockerfile, deploy/supervisord.conf, the demo's supervisord template and the systemd units."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from supervisor.options import ServerOptions

from demo import supervise

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SYSTEMD = REPO / "deploy" / "systemd"
APP_SERVICES = ("web", "projector", "bugbot", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_cli() -> list[str] | None:
    """`docker compose` (v2) where the plugin works, else `docker-compose` (v1), else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_validates_the_file():
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")
    env = {**os.environ, "DJANGO_SECRET_KEY": "a-test-secret-key-long-enough-for-the-check"}
    env.pop("DOCKER_HOST", None)
    result = subprocess.run([*cli, "-f", str(COMPOSE), "config"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"postgres", "redis", "migrate", *APP_SERVICES}
    assert resolved["services"]["web"]["environment"]["DJANGO_SECRET_KEY"] == env["DJANGO_SECRET_KEY"]
    # Without the secret key compose refuses to start anything, and says why.
    del env["DJANGO_SECRET_KEY"]
    refused = subprocess.run([*cli, "-f", str(COMPOSE), "config"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY" in refused.stderr + refused.stdout


def test_compose_services_health_checks_and_volumes(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", *APP_SERVICES}
    for name, mount in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        service = services[name]
        assert service["healthcheck"]["test"], name
        volume = service["volumes"][0].split(":")
        assert volume[1] == mount and volume[0] in compose["volumes"], name
    assert "--appendonly" in services["redis"]["command"]  # the stream is the source of truth
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "projector", "bugbot"):
        assert services[name]["healthcheck"]["test"], name
    assert services["web"]["command"][0] == "gunicorn" and "spool:/app/var/spool" in services["web"]["volumes"]


def test_compose_scales_consumers_with_distinct_names_and_runs_exactly_one_beat(compose):
    services = compose["services"]
    for name in ("projector", "bugbot"):
        command = " ".join(services[name]["command"])
        assert f"run_{name} --consumer \"{name}-$${{HOSTNAME}}\"" in command, command
        assert "container_name" not in services[name]  # a fixed name would forbid --scale
        assert services[name]["stop_signal"] == "SIGTERM"
    commands = {name: " ".join(service.get("command") or []) for name, service in services.items()}
    beats = [name for name, command in commands.items() if re.search(r"\bbeat\b", command) or " -B" in command]
    assert beats == ["beat"] and "worker" not in commands["beat"]
    assert "beat" not in commands["worker"] and "-B" not in commands["worker"].split()
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def _grace_s(value: str) -> int:
    return int(value.rstrip("s"))


def test_compose_stop_grace_periods_match_supervisord(compose):
    services = compose["services"]
    waits = {p.name: p.stopwaitsecs for p in deploy_programs()}
    assert _grace_s(services["projector"]["stop_grace_period"]) >= waits["run_projector_00"]
    assert _grace_s(services["bugbot"]["stop_grace_period"]) >= waits["run_bugbot"]
    assert _grace_s(services["worker"]["stop_grace_period"]) >= waits["celery_worker"]
    assert _grace_s(services["web"]["stop_grace_period"]) >= waits["site"]


def test_every_compose_variable_is_documented_in_the_file(compose):
    text = COMPOSE.read_text()
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    environment = compose["x-environment"]
    assert {"DATABASE_URL", "ERRORTRAIL_REDIS_URL", "ERROR_MONITORING_ENABLED", "ERROR_AUTO_BUG_THRESHOLD",
            "ERROR_SCAN_INTERVAL_MINUTES", "GITHUB_REPO", "GITHUB_TOKEN"} <= set(environment)
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))  # $${X} is the container shell's
    for name in set(environment) | interpolated:
        assert name in comments, f"{name} has no comment in docker-compose.yml"
    for name in APP_SERVICES + ("migrate",):
        assert compose["services"][name]["environment"] == environment


def test_dockerfile_slim_python_non_root_gunicorn():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert not any(line.startswith("RUN ") for line in lines[last_user:])  # nothing runs as root after USER
    cmd = next(line for line in lines if line.startswith("CMD "))
    assert '"gunicorn"' in cmd and "demo.petclinic.wsgi" in cmd
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "demo/var", "tests"} <= set(ignored)


def deploy_programs() -> list:
    options = ServerOptions()
    options.realize(args=["-c", str(REPO / "deploy" / "supervisord.conf")])
    return [p for group in options.process_group_configs for p in group.process_configs]


def test_deploy_supervisord_conf_stops_gracefully_and_logs_to_stdout():
    programs = {p.name: p for p in deploy_programs()}
    assert set(programs) == {"site", "run_projector_00", "run_projector_01", "run_bugbot", "celery_worker",
                             "celery_beat"}
    for program in programs.values():
        assert program.stopsignal == 15 and program.stopasgroup and program.killasgroup, program.name
        assert program.stdout_logfile == "/dev/stdout" and program.stdout_logfile_maxbytes == 0, program.name
        assert program.stderr_logfile == "/dev/stderr" and program.stderr_logfile_maxbytes == 0, program.name
        assert program.autorestart, program.name
    assert programs["run_projector_00"].stopwaitsecs >= 30  # a batch and the 5 s socket timeout
    assert programs["run_bugbot"].stopwaitsecs > 60 + 15  # a rate-limit wait in place plus a request timeout
    assert programs["site"].stopwaitsecs > 30  # gunicorn's --graceful-timeout
    assert "--graceful-timeout 30" in programs["site"].command
    consumers = [programs[n].command.split("--consumer ")[1] for n in programs if n.startswith("run_")]
    assert len(set(consumers)) == len(consumers) == 3
    beats = [p for p in programs.values() if " beat" in p.command or " -B" in p.command]
    assert [p.name for p in beats] == ["celery_beat"]


def test_the_demo_template_renders_a_valid_supervisord_config(tmp_path):
    conf = supervise.render(tmp_path, REPO, "127.0.0.1", 8123, python="/usr/bin/python3")
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    programs = {p.name: p for group in options.process_group_configs for p in group.process_configs}
    assert tuple(sorted(programs)) == tuple(sorted(supervise.PROGRAMS))
    assert "runserver --noreload --insecure 127.0.0.1:8123" in programs["site"].command
    assert programs["celery"].command.split()[:7] == ["/usr/bin/python3", "-m", "celery", "-A", "bugbot.celery",
                                                      "worker", "-B"]
    for program in programs.values():
        assert program.stopasgroup and program.killasgroup, program.name
        assert program.stopwaitsecs < supervise.STOP_TIMEOUT_S, program.name
        assert program.stdout_logfile == str(tmp_path / "log" / f"{program.name}.log")
    assert (tmp_path / "log").is_dir()


def systemd_units() -> dict[str, configparser.ConfigParser]:
    units = {}
    for path in sorted(SYSTEMD.glob("errortrail*.service")) + sorted(SYSTEMD.glob("*.target")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read_string(path.read_text())
        units[path.name] = parser
    return units


def test_systemd_units_mirror_the_supervisord_programs():
    units = systemd_units()
    waits = {p.name: p.stopwaitsecs for p in deploy_programs()}
    pairs = {"errortrail-web.service": "site", "errortrail-projector@.service": "run_projector_00",
             "errortrail-bugbot.service": "run_bugbot", "errortrail-celery-worker.service": "celery_worker",
             "errortrail-celery-beat.service": "celery_beat"}
    assert set(units) == set(pairs) | {"errortrail.target"}
    for unit, program in pairs.items():
        service = units[unit]["Service"]
        assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed", unit
        assert int(service["TimeoutStopSec"]) == waits[program], unit
        assert service["User"] not in ("root", "0") and service["Restart"] == "always", unit
        assert units[unit]["Install"]["WantedBy"] == "errortrail.target", unit
    assert "--consumer %H-projector-%i" in units["errortrail-projector@.service"]["Service"]["ExecStart"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path):
    """Paths of /srv/errortrail point at this checkout, so the executables exist; any warning fails."""
    if not (REPO / ".venv" / "bin" / "gunicorn").exists():
        pytest.skip("no .venv with gunicorn to stand in for /srv/errortrail/.venv")
    for path in SYSTEMD.glob("errortrail*"):
        if path.suffix in (".service", ".target"):
            text = path.read_text().replace("/srv/errortrail/.venv/bin", str(REPO / ".venv" / "bin"))
            (tmp_path / path.name).write_text(text.replace("/srv/errortrail", str(REPO)))
    names = [f"./{p.name}" for p in sorted(tmp_path.iterdir()) if "@" not in p.name]
    names.append("./errortrail-projector@1.service")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
