"""docs/configuration.md against the code: every setting of every app, every environment variable."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from bugbot import conf as bugbot_conf
from capture import conf as capture_conf
from contracts.config import Setting
from projector import conf as projector_conf

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configuration.md"
APPS = {"capture": capture_conf, "projector": projector_conf, "bugbot": bugbot_conf}
ENV_READ = re.compile(r"""(?:environ(?:\.get)?[\[(]|env_(?:bool|list)\(os\.environ,\s*)["']([A-Z][A-Z0-9_]+)["']""")


def generator():
    spec = importlib.util.spec_from_file_location("configuration_table", REPO / "docs" / "configuration_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


def rows(doc: str) -> dict[str, list[str]]:
    """The generated table: key -> its cells."""
    out = {}
    for line in doc.split(generator().BEGIN)[1].split(generator().END)[0].splitlines():
        match = re.match(r"\| `([A-Z0-9_]+)` \|", line)
        if match:
            out[match.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    return out


def test_the_committed_page_equals_the_generated_one(doc):
    gen = generator()
    assert gen.rewrite(doc, gen.render(gen.load_settings())) == doc, "run: python docs/configuration_table.py"
    assert gen.main(["--check"]) == 0


def test_every_setting_of_every_app_is_in_the_table_with_its_default_and_variables(doc):
    table = rows(doc)
    show = generator().show
    for app, module in APPS.items():
        assert module.SETTINGS, app
        for setting in module.SETTINGS:
            key, env, default, minimum, readers, meaning = table[setting.name]
            assert key == f"`{setting.name}`"
            assert env == (", ".join(f"`{v}`" for v in setting.env) or "–"), setting.name
            assert default == show(setting.default).replace("|", "\\|"), setting.name
            assert minimum == ("–" if setting.minimum is None else f"{setting.minimum:g}"), setting.name
            assert app in readers.split(", "), setting.name
            assert meaning, setting.name
    assert set(table) == {s.name for m in APPS.values() for s in m.SETTINGS}


def test_long_list_defaults_are_spelled_out_in_full(doc):
    for module in APPS.values():
        for setting in module.SETTINGS:
            if generator().is_long(setting.default):
                block = doc.split(f"- `{setting.name}`:", 1)[1].split("```", 2)[1]
                assert [line.strip() for line in block.splitlines()[1:] if line.strip()] == list(setting.default)


def test_shown_defaults():
    show = generator().show
    assert show(True) == "`true`" and show(0.1) == "`0.1`" and show(1_000_000) == "`1,000,000`"
    assert show(()) == "(none)" and show("") == "(empty)" and show(("a", "b")) == "`a`, `b`"
    assert show(tuple("abcdefg")) == "7 entries, below"
    import tempfile

    assert show(str(Path(tempfile.gettempdir()) / "x")) == "`<tmp>/x`"


def test_apps_that_share_a_key_must_agree_on_it():
    gen = generator()
    one = Setting("REDIS_URL", "redis://a/0", "x", env=("A",))
    other = Setting("REDIS_URL", "redis://b/0", "x", env=("A",))
    assert gen.merged({"capture": [one], "bugbot": [one]})[0][1] == ["capture", "bugbot"]
    with pytest.raises(gen.Disagreement, match="REDIS_URL"):
        gen.merged({"capture": [one], "bugbot": [other]})


def test_check_fails_when_the_page_is_stale(tmp_path, monkeypatch, capsys):
    gen = generator()
    stale = tmp_path / "configuration.md"
    stale.write_text(f"# Configuration\n\n{gen.BEGIN}\n| `OLD` | – | `1` | – | capture | gone |\n{gen.END}\n")
    monkeypatch.setattr(gen, "DOC", stale)
    monkeypatch.setattr(gen, "REPO", tmp_path)
    assert gen.main(["--check"]) == 1 and "out of date" in capsys.readouterr().err
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
    assert "`OLD`" not in stale.read_text() and "`THRESHOLD`" in stale.read_text()


def env_variables_read_in(paths: list[Path]) -> set[str]:
    return {name for path in paths for name in ENV_READ.findall(path.read_text())}


def test_every_environment_variable_the_apps_and_the_demo_read_is_documented(doc):
    code = [p for app in (*APPS, "webui", "contracts") for p in (REPO / app).rglob("*.py")]
    demo = list((REPO / "demo").rglob("*.py"))
    read = env_variables_read_in(code) | env_variables_read_in(demo)
    assert {"DATABASE_URL", "DEMO_PORT", "DJANGO_SECRET_KEY", "ERRORTRAIL_CONSUMER"} <= read  # the scan works
    missing = sorted(name for name in read - {"PYTHONPATH"} if f"`{name}`" not in doc)  # run.py prepends the repo
    assert missing == []


def test_every_compose_variable_is_documented(doc):
    compose_text = (REPO / "docker-compose.yml").read_text()
    compose = yaml.safe_load(compose_text)
    names = set(compose["x-environment"]) | set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", compose_text))
    assert sorted(name for name in names if f"`{name}`" not in doc) == []
