"""The per-invocation state every command receives: global options, IO, settings, clients.

Made by the app's callback from the global options and stored on the click
context (``ctx.obj``). Settings are resolved on first use, so commands that do
not talk to a server (``config``, ``completion``, ``webhook verify``) work even
with a broken profile. SDK clients are imported only when a command asks for one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import Settings, resolve_settings
from .io import IOStreams
from .text import redact
from .urls import server_key, url_passwords

if TYPE_CHECKING:
    from .. import AsyncJobsClient, JobsClient
    from .display import NullProgress
    from .ledger import Ledger

__all__ = [
    "CI_MODES",
    "PROGRESS_MODES",
    "AppState",
    "CiReporting",
    "GlobalOptions",
    "RedactingFilter",
]

PROGRESS_MODES = ("auto", "bar", "plain", "none")
CI_MODES = ("auto", "github", "gitlab", "none")


@dataclass(frozen=True)
class GlobalOptions:
    """The options every command accepts (before or after the command name).

    Made by the root callback from the options given before the command; each one
    given after it replaces its field (``jobctl.cli.root``). A bad ``--progress``
    is a usage error either way.

    Args:
        url: ``--url`` (None: env, profile, default).
        token: ``--token`` (never printed).
        profile: ``--profile``.
        json: ``--json``: one JSON document on stdout.
        quiet: ``--quiet``: only the essential value on stdout, only errors on stderr.
        progress: ``--progress`` (None: env, profile, ``auto``).
        verbose: ``--verbose``: HTTP requests and retries on stderr, tracebacks on errors.
        ca_bundle: ``--ca-bundle``: a PEM file of CAs to trust.
        insecure: ``--insecure``: do not verify TLS certificates.
        ci: ``--ci``: whose CI conventions to follow (None: ``JOBCTL_CI``, else ``auto``).
    """

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    profile: str | None = None
    json: bool = False
    quiet: bool = False
    progress: str | None = None
    verbose: bool = False
    ca_bundle: Path | None = None
    insecure: bool = False
    ci: str | None = None

    def __post_init__(self) -> None:
        from .exitcodes import CliError

        if self.progress is not None and self.progress not in PROGRESS_MODES:
            raise CliError(f"invalid --progress {self.progress!r}: use auto, bar, plain or none")
        if self.ci is not None and self.ci not in CI_MODES:
            raise CliError(f"invalid --ci {self.ci!r}: use auto, github, gitlab or none")


class RedactingFilter(logging.Filter):
    """Replaces secrets in log records with ``***`` before they are formatted out.

    The ``--verbose`` lines also quote server text (URLs, retry reasons), so the
    redacted message is escaped with ``text.clean`` too.

    Args:
        secrets: the strings to hide (empty ones are ignored).
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and keep the record.

        Args:
            record: the log record.
        """
        message = record.getMessage()
        message = redact(message, self.secrets)
        message = _redact_bearer(message)
        from .text import clean

        record.msg, record.args = clean(message), None
        return True


def _redact_bearer(text: str) -> str:
    import re

    return re.sub(r"(?i)(bearer\s+)[^\s'\",}]+", r"\1***", text)


class CiReporting(Protocol):
    """What the waiter and the downloader tell a command's CI session (``ci.session.CiSession``;
    declared here so that this module imports nothing that imports it)."""

    def track(self, outcomes: Sequence[Any]) -> None:
        """Report these ``waiting.Outcome``s (filled in as the jobs progress)."""

    def downloading(self, job_id: str) -> None:
        """A job's result is being saved."""

    def saved(self, job_id: str, path: Path | None) -> None:
        """A job's result was saved (None: to stdout)."""

    def display(self) -> NullProgress:
        """The progress display for following jobs."""


@dataclass
class AppState:
    """Everything a command needs, made once per run.

    Args:
        options: the global options.
        io: the streams.
    """

    options: GlobalOptions
    io: IOStreams
    resume_args: tuple[str, ...] = ()
    """What a resume hint adds after ``jobctl wait ID`` (``-o PATH`` of the command)."""
    ci: CiReporting | None = None
    """The CI reporting of this run (``cli/ci/session.py``), when the command made one."""
    command_secrets: list[str] = field(default_factory=list, repr=False)
    """Secrets a command was given (``--webhook-secret``): never shown or written, as the token."""
    _settings: Settings | None = field(default=None, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        """The resolved settings (flag > env > profile > default); ConfigError if unusable."""
        if self._settings is None:
            o = self.options
            self._settings = resolve_settings(
                url=o.url, token=o.token, profile=o.profile, progress=o.progress
            )
            self._setup_logging()
        return self._settings

    @property
    def resolved_settings(self) -> Settings | None:
        """The settings if a command already resolved them, else None (never resolves)."""
        return self._settings

    @property
    def server(self) -> str:
        """The API base URL without any ``user:password@`` (shown, and keys the ledger)."""
        return server_key(self.settings.url)

    def secrets(self) -> list[str]:
        """The token and any password in the URL: never shown, logged or written."""
        settings = self._settings
        token = (settings.token if settings else None) or self.options.token
        found = [token] if token else []
        found += [s for s in self.command_secrets if s]
        return found + (url_passwords(settings.url) if settings else [])

    @property
    def ci_mode(self) -> str:
        """``--ci``, else ``JOBCTL_CI``, else ``auto`` (see ``cli.ci.detect``)."""
        if self.options.ci is not None:
            return self.options.ci
        value = self.io.env.get("JOBCTL_CI", "").strip().lower()
        if value and value not in CI_MODES:
            from .exitcodes import CliError

            raise CliError(f"invalid JOBCTL_CI {value!r}: use auto, github, gitlab or none")
        return value or "auto"

    def safe_settings(self) -> Settings | None:
        """The settings if they resolve, else None (for error messages)."""
        try:
            return self.settings
        except Exception:
            return None

    @property
    def progress_mode(self) -> str:
        """``bar``, ``plain`` or ``none`` for this run (``none`` with ``--quiet``)."""
        if self.options.quiet:
            return "none"
        return self.io.progress_mode(self.settings.progress)

    def hint(self, text: str) -> None:
        """A hint or notice on stderr (suppressed by ``--quiet``).

        Args:
            text: one line.
        """
        if not self.options.quiet:
            self.io.write_err(text)

    def ledger(self) -> Ledger:
        """The local ledger of submitted jobs."""
        from .ledger import Ledger

        return Ledger()

    def _verify(self) -> Any:
        o = self.options
        if o.insecure:
            return False
        if o.ca_bundle is not None:
            if not o.ca_bundle.is_file():
                from .exitcodes import CliError

                raise CliError(f"--ca-bundle {o.ca_bundle}: no such file")
            return str(o.ca_bundle)
        return True

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for either SDK client, from the resolved settings."""
        s = self.settings
        kwargs: dict[str, Any] = {"base_url": s.url, "token": s.token}
        if s.profile:
            kwargs["profile"] = s.profile
        verify = self._verify()
        if verify is not True:
            kwargs["verify"] = verify
        return kwargs

    def client(self) -> JobsClient:
        """A synchronous SDK client (close it, or use it as a context manager)."""
        from .. import JobsClient

        return JobsClient(**self.client_kwargs())

    def async_client(self) -> AsyncJobsClient:
        """An asynchronous SDK client (``async with``)."""
        from .. import AsyncJobsClient

        return AsyncJobsClient(**self.client_kwargs())

    def _setup_logging(self) -> None:
        if self.options.insecure:
            self.hint("warning: --insecure: TLS certificates are NOT verified")
        if not self.options.verbose:
            return
        handler = logging.StreamHandler(self.io.stderr)
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter(self.secrets()))
        for name in ("jobctl", "httpx"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG)
            logger.addHandler(handler)
