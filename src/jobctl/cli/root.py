"""The ``jobctl`` application: global options, the command tree, one-line errors, exit codes.

``jobctl.cli.app.main`` (the console script) hands over to ``main`` here.
``JobctlGroup`` (the root click group) does three things the stock Typer group
does not:

- moves global options written after the command in front of it (``argv.py``);
- turns every exception a command raises into one stderr line and the exit code
  of the table in ``exitcodes.py`` (a traceback only with ``--verbose``);
- prints usage errors as one line with exit code 2 instead of a rich panel.

Nothing here imports httpx, pydantic or the server: ``jobctl --version`` and
``jobctl --help`` stay cheap. Commands import the SDK inside their bodies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from .._version import __version__
from .argv import CommandSpec, hoist_global_options
from .exitcodes import CliError, ExitCode
from .failure import report_error, silence_stdout
from .io import IOStreams
from .state import AppState, GlobalOptions

__all__ = [
    "GLOBAL_FLAGS",
    "GLOBAL_VALUE_OPTIONS",
    "JobctlGroup",
    "app",
    "get_command",
    "main",
    "report_error",
]

GLOBAL_VALUE_OPTIONS = frozenset({"--url", "--token", "--profile", "--progress", "--ca-bundle"})
GLOBAL_FLAGS = frozenset({"--json", "--quiet", "-q", "--verbose", "-v", "--insecure"})


def _spec(command: Any) -> CommandSpec:
    values: set[str] = set()
    flags: set[str] = set()
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        (flags if param.is_flag or param.count else values).update(names)
    subcommands = frozenset(getattr(command, "commands", {}) or {})
    passthrough = bool((command.context_settings or {}).get("ignore_unknown_options"))
    return CommandSpec(frozenset(values), frozenset(flags), subcommands, passthrough)


class JobctlGroup(TyperGroup):
    """The root group: global options anywhere, one-line errors, the exit-code table."""

    def _lookup(self, path: tuple[str, ...]) -> CommandSpec | None:
        command: Any = self
        for name in path:
            command = (getattr(command, "commands", None) or {}).get(name)
            if command is None:
                return None
        return _spec(command)

    def help_shortcut(self, args: Sequence[str]) -> str | None:
        """The help text for ``jobctl CMD ... --help``, made without processing any option.

        Typer coerces option values with pydantic, so letting click parse the
        root options before a subcommand's ``--help`` would import pydantic;
        help must stay cheap. Returns None when no subcommand help was asked for.

        Args:
            args: the command-line arguments.
        """
        words = list(args[: args.index("--")] if "--" in args else args)
        if not any(w in ("--help", "-h") for w in words):
            return None
        command: Any = self
        ctx: Any = self.context_class(self, info_name="jobctl")
        path: list[str] = []
        for word in words:
            sub = (getattr(command, "commands", None) or {}).get(word)
            if sub is None:
                continue
            if (sub.context_settings or {}).get("ignore_unknown_options"):
                return None  # `jobctl server --help` is the server's own help
            command, path = sub, [*path, word]
            ctx = sub.context_class(sub, info_name=word, parent=ctx)
        if not path:
            return None
        return str(command.get_help(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Hoist global options, then parse as usual.

        Args:
            ctx: the group's context.
            args: the arguments after the program name.
        """
        hoisted = hoist_global_options(
            args,
            global_value=GLOBAL_VALUE_OPTIONS,
            global_flags=GLOBAL_FLAGS,
            lookup=self._lookup,
        )
        return super().parse_args(ctx, hoisted)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; map anything it raises to one line and an exit code.

        Args:
            ctx: the group's context.
        """
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (`jobctl events | head -1`): stop quietly, like cat does.
            silence_stdout()
            raise typer.Exit(0) from None
        except (Exception, KeyboardInterrupt) as exc:
            state = ctx.obj if isinstance(ctx.obj, AppState) else None
            code = report_error(exc, state, verbose=bool(ctx.params.get("verbose")))
            raise typer.Exit(code) from None

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
        if os.environ.get("_JOBCTL_COMPLETE"):
            from typer._completion_classes import completion_init

            completion_init()
        argv = list(sys.argv[1:] if args is None else args)
        help_text = None if os.environ.get("_JOBCTL_COMPLETE") else self.help_shortcut(argv)
        if help_text is not None:
            sys.stdout.write(help_text + "\n")
            if standalone_mode:
                sys.exit(0)
            return 0
        try:
            rv = super().main(
                args=argv,
                prog_name=prog_name or "jobctl",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) else 0
        except NoArgsIsHelpError as exc:
            sys.stdout.write(exc.format_message() + "\n")
            code = ExitCode.OK
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "jobctl"
            message = exc.format_message().rstrip(".")
            sys.stderr.write(f"error: {message} (see '{where} --help')\n")
            code = ExitCode.USAGE
        except ClickException as exc:
            sys.stderr.write(f"error: {exc.format_message()}\n")
            code = exc.exit_code or ExitCode.INTERNAL
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            code = ExitCode.INTERNAL
        if standalone_mode:
            sys.exit(code)
        return code


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"jobctl {__version__}\n")
        raise typer.Exit(0)


app = typer.Typer(
    cls=JobctlGroup,
    name="jobctl",
    help="Submit jobs to an async job API, follow them to the end, and fetch their results.",
    epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 job failed, 4 auth refused, "
    "5 job cancelled, 6 not found, 7 timed out, 8 service unavailable, 9 refused, "
    "130 interrupted.",
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
    json_output: Annotated[
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
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Submit jobs to an async job API, follow them to the end, and fetch their results."""
    if progress is not None and progress not in ("auto", "bar", "plain", "none"):
        raise CliError(f"invalid --progress {progress!r}: use auto, bar, plain or none")
    options = GlobalOptions(
        url=url,
        token=token,
        profile=profile,
        json=json_output,
        quiet=quiet,
        progress=progress,
        verbose=verbose,
        ca_bundle=ca_bundle,
        insecure=insecure,
    )
    ctx.obj = AppState(options, IOStreams.system())


def _register() -> None:
    from .commands import register_all

    register_all(app)


_register()


def get_command() -> Any:
    """The click command behind the app (for docs, completion and tests)."""
    return typer.main.get_command(app)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run jobctl with ``argv`` (default ``sys.argv[1:]``); return the code.

    Args:
        argv: the arguments, without the program name.
    """
    return int(get_command().main(args=argv, prog_name="jobctl", standalone_mode=False))
