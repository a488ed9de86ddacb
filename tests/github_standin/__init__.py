"""A stateful stand-in for the GitHub REST API, served over real HTTP for tests (see README.md)."""

from .faults import Fault
from .standin import GitHubStandIn, LoggedRequest

__all__ = ["Fault", "GitHubStandIn", "LoggedRequest"]
