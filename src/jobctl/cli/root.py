"""The ``jobctl`` application: one parser (Typer's click), commands loaded from a table on use.

``JobctlGroup`` is the root group (Typer's ``cls=``, the LazyGroup pattern of
click's documentation):

- it lists the commands of ``commands.COMMANDS`` and imports a command's module
  only when the command is needed (``jobctl --help`` imports none of them,
  ``jobctl status ID`` only ``commands/status.py``);
- the global options are declared once, as the parameters of the root callback
  ``root``; every command it loads (except ``server``, whose arguments are all
  the server's) gets hidden copies of them, so click accepts them after the
  command too. A copy's value is written into the run's ``GlobalOptions`` when it
  is parsed, after the root callback made them: a value given after the
  command wins over one given before it. A command's own option of the same
  name (``config set --profile``) stays the command's;
- every exception a command raises becomes one stderr line and the exit code of
  ``exitcodes.py`` (a traceback only with ``--verbose``); usage errors are one
  line too (``error: ... (see 'jobctl CMD --help')``, exit 2).

Typer vendors click in a private module and exports of it only
``TyperException`` (the base of click's errors), ``Exit``, ``Abort``,
``TyperGroup`` and ``typer.main.get_command``: this module uses those, the
public attributes of the commands they make, and nothing private.
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from .commands import BY_NAME, COMMANDS, PANELS, Entry

if TYPE_CHECKING:
    from .state import AppState

__all__ = ["JobctlGroup", "app", "get_command", "main"]

_ROOT_ONLY = frozenset({"version"})
"""The root callback's parameters that are not global options (``GlobalOptions``' fields)."""

_USAGE = 2
"""``ExitCode.USAGE``, without importing ``exitcodes`` for ``--help``."""


class _LazyCommands(MutableMapping[str, Any]):
    """The root's commands: every name of the table, each built on first access."""

    def __init__(self, load: Callable[[Entry], Any]) -> None:
        self._load = load
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            self._loaded[name] = self._load(BY_NAME[name])
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*BY_NAME, *(n for n in self._loaded if n not in BY_NAME)])

    def __len__(self) -> int:
        return len(set(BY_NAME) | set(self._loaded))


def _state(ctx: Any) -> AppState | None:
    from .state import AppState

    state = ctx.find_root().obj
    return state if isinstance(state, AppState) else None


def _given_after_command(ctx: Any, param: Any, value: Any) -> Any:
    """The callback of a global option's copy on a command: its value replaces the earlier one."""
    state = _state(ctx)
    if value is not None and value is not False and state and not ctx.resilient_parsing:
        state.options = replace(state.options, **{param.name: value})
    return value


class JobctlGroup(TyperGroup):
    """The root group: commands from the table, global options anywhere, one-line errors."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self._load)

    def list_commands(self, ctx: Any) -> list[str]:
        """The command names, in the table's order (no module is imported).

        Args:
            ctx: the group's context.
        """
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name`` (its module is imported now), or None.

        Args:
            ctx: the group's context.
            cmd_name: the name given on the command line.
        """
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List the commands with their help from the table, one section per panel.

        Args:
            ctx: the group's context.
            formatter: click's help formatter.
        """
        width = max(len(e.name) for e in COMMANDS)  # one column for every section
        for panel in PANELS:
            with formatter.section(panel):
                rows = [(e.name.ljust(width), e.help) for e in COMMANDS if e.panel == panel]
                formatter.write_dl(rows)

    def _load(self, entry: Entry) -> Any:
        module = importlib.import_module(f"{__package__}.commands.{entry.module}")
        target = getattr(module, entry.attr)
        if not isinstance(target, typer.Typer):
            function = target
            target = typer.Typer(add_completion=False)
            target.command(entry.name)(function)
        command = typer.main.get_command(target)
        globals_ = [p for p in self.params if p.name not in _ROOT_ONLY]
        _adopt(command, globals_)
        return command

    def invoke(self, ctx: Any) -> Any:
        """Run the command; map anything it raises to one line and an exit code.

        Args:
            ctx: the group's context.
        """
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BrokenPipeError:
            from .failure import silence_stdout

            # The reader went away (`jobctl events | head -1`): stop quietly, like cat does.
            silence_stdout()
            raise typer.Exit(0) from None
        except (Exception, KeyboardInterrupt) as exc:
            from .failure import report_error

            state = _state(ctx)
            verbose = state.options.verbose if state else bool(ctx.params.get("verbose"))
            raise typer.Exit(report_error(exc, state, verbose=verbose)) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run jobctl; with ``standalone_mode`` exit the process with the code, else return it.

        Args:
            args: the arguments (default ``sys.argv[1:]``).
            prog_name: the program name (``jobctl``).
            complete_var: the shell-completion environment variable.
            standalone_mode: exit the process instead of returning the code.
            extra: passed to click's context.
        """
        try:
            rv = super().main(
                args=list(sys.argv[1:] if args is None else args),
                prog_name=prog_name or "jobctl",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) else 0
        except typer.TyperException as exc:
            code = _parse_error(exc)
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            code = 1  # ExitCode.INTERNAL
        if standalone_mode:
            sys.exit(code)
        return code


def _adopt(command: Any, globals_: list[Any]) -> None:
    """Give ``command`` and its subcommands plain help and copies of the global options."""
    command.rich_markup_mode = None
    if (command.context_settings or {}).get("ignore_unknown_options"):
        return  # `jobctl server`: every argument is the server's
    taken = {name for p in command.params for name in (p.name, *p.opts, *p.secondary_opts)}
    for param in globals_:
        if taken.isdisjoint((param.name, *param.opts, *param.secondary_opts)):
            after = copy.copy(param)
            after.hidden, after.expose_value, after.callback = True, False, _given_after_command
            command.params.append(after)
    for sub in (getattr(command, "commands", None) or {}).values():
        _adopt(sub, globals_)


def _parse_error(exc: typer.TyperException) -> int:
    """Print one of click's errors the jobctl way; return the exit code."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group without its command: its help
        sys.stdout.write(exc.format_message() + "\n")
        return 0
    if exc.exit_code == _USAGE:
        where = ctx.command_path if ctx is not None else "jobctl"
        message = exc.format_message().rstrip(".")
        sys.stderr.write(f"error: {message} (see '{where} --help')\n")
        return _USAGE
    sys.stderr.write(f"error: {exc.format_message()}\n")
    return exc.exit_code or 1


def _version(value: bool) -> None:
    if value:
        from .._version import version_text

        sys.stdout.write(version_text())
        raise typer.Exit(0)


app = typer.Typer(
    cls=JobctlGroup,
    name="jobctl",
    help="Submit jobs to an async job API, follow them to the end, and fetch their results.",
    epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 job failed, 4 auth refused, "
    "5 job cancelled, 6 not found, 7 timed out, 8 service unavailable, 9 refused, "
    "10 local problem, 130 interrupted, 143 terminated.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", metavar="URL", help="API base URL [env JOBCTL_URL].", show_default=False
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="Bearer token; never echoed [env JOBCTL_TOKEN].",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", metavar="NAME", help="A profile from the config file [env JOBCTL_PROFILE]."
        ),
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output on stdout.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the essential value; errors only.")
    ] = False,
    progress: Annotated[
        str | None,
        typer.Option(
            "--progress",
            metavar="auto|bar|plain|none",
            help="Progress display [env JOBCTL_PROGRESS; default auto].",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="HTTP requests and retries on stderr.")
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option("--ca-bundle", metavar="PATH", help="PEM file of CAs to trust for TLS."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify TLS certificates (warns).")
    ] = False,
    ci: Annotated[
        str | None,
        typer.Option(
            "--ci",
            metavar="auto|github|gitlab|none",
            help="CI conventions: groups, annotations, outputs, summary [env JOBCTL_CI; "
            "default auto: GITHUB_ACTIONS, GITLAB_CI].",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Submit jobs to an async job API, follow them to the end, and fetch their results."""
    from .io import IOStreams
    from .state import AppState, GlobalOptions

    options = GlobalOptions(
        url=url,
        token=token,
        profile=profile,
        json=json,
        quiet=quiet,
        progress=progress,
        verbose=verbose,
        ca_bundle=ca_bundle,
        insecure=insecure,
        ci=ci,
    )
    ctx.obj = AppState(options, IOStreams.system())


def get_command() -> Any:
    """The click command behind the app (for docs, completion and tests)."""
    return typer.main.get_command(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run jobctl with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Args:
        argv: the arguments, without the program name.
    """
    return int(get_command().main(args=argv, prog_name="jobctl", standalone_mode=False))
