"""Bugbot's system checks (bugbot.E001…): settings that cannot work, said with how to fix them."""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from bugbot import conf
from contracts.config import ConfigError


@register(Tags.compatibility)
def check_config(app_configs: Any = None, **kwargs: Any) -> list:
    """E001 unusable setting, E002 a GitHub backend without repository or token, W001 no webhook secret, E003 no gh,
    W003 Celery's broker defaulting to a Redis Cluster."""
    try:
        cfg = conf.get()
    except ConfigError as exc:
        return [Error(f"errortrail bugbot settings: {exc}", hint="Fix the value in ERRORTRAIL or the environment.",
                      id="bugbot.E001")]
    out = []
    if cfg["BUG_BACKEND"] in ("github", "gh"):
        if "/" not in cfg["GITHUB_REPO"] or not cfg["GITHUB_TOKEN"]:
            out.append(Error(
                f"The {cfg['BUG_BACKEND']} bug backend needs GITHUB_REPO (owner/name) and GITHUB_TOKEN.",
                hint="Set both, or ERRORTRAIL_BUG_BACKEND=local to keep bugs inside errortrail.", id="bugbot.E002"))
        if not cfg["GITHUB_WEBHOOK_SECRET"]:
            out.append(Warning(
                "GITHUB_WEBHOOK_SECRET is not set: the issues webhook refuses every delivery.",
                hint="Set it to the webhook's secret, or rely on the periodic scan's sync.", id="bugbot.W001"))
    if cfg["BUG_BACKEND"] == "gh" and shutil.which(cfg["GH_PATH"]) is None:
        out.append(Error(f"The gh backend cannot find {cfg['GH_PATH']!r}.",
                         hint="Install the GitHub CLI (apt-get install gh) or set ERRORTRAIL_GH_PATH.",
                         id="bugbot.E003"))
    if cfg["REDIS_CLUSTER"] and not getattr(settings, "CELERY_BROKER_URL", None):
        out.append(Warning(
            "REDIS_CLUSTER is on and CELERY_BROKER_URL is not set: Celery's broker would be a cluster node, which "
            "Celery cannot use.", hint="Set CELERY_BROKER_URL to a plain Redis (or another broker), or run "
            "`manage.py scan_errors` from cron instead of Celery beat.", id="bugbot.W003"))
    return out
