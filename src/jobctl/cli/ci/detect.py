"""Which CI system's conventions to follow: ``--ci``, ``JOBCTL_CI``, then the runner's variables."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SYSTEMS", "detect"]

SYSTEMS = ("github", "gitlab")


def detect(requested: str, env: Mapping[str, str]) -> str | None:
    """The CI system to report to, or None.

    ``auto`` is GitHub Actions when ``GITHUB_ACTIONS=true``, GitLab CI when
    ``GITLAB_CI=true`` (the variables each runner sets), else none; ``github`` and
    ``gitlab`` force one, ``none`` turns CI reporting off.

    Args:
        requested: ``auto``, ``github``, ``gitlab`` or ``none``.
        env: the environment.
    """
    if requested in SYSTEMS:
        return requested
    if requested != "auto":
        return None
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        return "github"
    if env.get("GITLAB_CI", "").lower() == "true":
        return "gitlab"
    return None
