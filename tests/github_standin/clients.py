"""Real clients configured for a stand-in: PyGithub as NOTES.md says, and the environment for `gh`."""

from __future__ import annotations

import os

GH_HOST = "github.localhost"  # gh then speaks plain HTTP to api.github.localhost, reachable through HTTP_PROXY


def notes_retry(**overrides):
    """The project's GithubRetry: no status retries; backoff 0 so tests never sleep."""
    from github import GithubRetry

    return GithubRetry(**{"total": 3, "backoff_factor": 0, "status_forcelist": [], "max_rate_limit_wait": 5,
                          **overrides})


def pygithub_client(base_url: str, token: str, retry="notes", **kwargs):
    """A PyGithub client; `retry` is "notes" (as above), "default" (PyGithub's own) or passed on as is."""
    from github import Auth, Github

    options = {"timeout": 15, "seconds_between_requests": None, "seconds_between_writes": None, **kwargs}
    if retry != "default":
        options["retry"] = notes_retry() if retry == "notes" else retry
    return Github(base_url=base_url, auth=Auth.Token(token), lazy=True, **options)


def gh_env(proxy_url: str, token: str, config_dir: str) -> dict[str, str]:
    """Environment for a `gh` subprocess: GH_HOST=github.localhost, HTTP_PROXY set for gh alone."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("GH_", "GITHUB_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"))}
    env.update(GH_HOST=GH_HOST, GH_TOKEN=token, GH_CONFIG_DIR=config_dir, HTTP_PROXY=proxy_url,
               http_proxy=proxy_url, GH_NO_UPDATE_NOTIFIER="1", GH_PROMPT_DISABLED="1", NO_COLOR="1",
               GH_PAGER="cat", PAGER="cat")
    return env
