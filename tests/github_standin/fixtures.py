"""pytest fixtures: import them into a test module, or list this module in `pytest_plugins`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .standin import GitHubStandIn

GH = shutil.which("gh")


@pytest.fixture
def github_standin():
    """A fresh stand-in (repository `errortrail/site`, issue #1 closed) serving on 127.0.0.1."""
    with GitHubStandIn() as standin:
        yield standin


@pytest.fixture
def gh_cli(github_standin, tmp_path):
    """Run the real `gh` against the stand-in: `gh_cli("api", "repos/o/r/issues")` -> CompletedProcess."""
    if GH is None:
        message = "gh is not installed (apt-get install gh)"
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("ERRORTRAIL_REQUIRE_SERVICES") == "1":
            pytest.fail(message + "; CI requires it", pytrace=False)
        pytest.skip(message)
    env = github_standin.gh_env(str(tmp_path / "gh-config"))

    def run(*args: str, input: str | None = None, env_overrides: dict | None = None):
        return subprocess.run([GH, *args], env={**env, **(env_overrides or {})}, input=input,
                              capture_output=True, text=True, timeout=60)

    return run
