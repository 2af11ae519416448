"""``jobctl completion bash|zsh|fish``: print the shell completion script.

The scripts ask jobctl itself for candidates (``_JOBCTL_COMPLETE``), so they
never go stale when commands change; the same text is committed in
``completions/`` and a test fails when the two differ.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..exitcodes import CliError
from ._common import state_of

__all__ = ["SHELLS", "completion_script", "register"]

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_JOBCTL_COMPLETE"


def register(app: typer.Typer) -> None:
    """Add ``completion`` to the app.

    Args:
        app: the root app.
    """
    app.command("completion", rich_help_panel="Tools")(completion)


def completion_script(shell: str) -> str:
    """The completion script for a shell, ending with a newline.

    Args:
        shell: ``bash``, ``zsh`` or ``fish``.
    """
    if shell not in SHELLS:
        raise CliError(f"unsupported shell {shell!r}: use bash, zsh or fish")
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name="jobctl", complete_var=COMPLETE_VAR, shell=shell)
    return script.rstrip("\n") + "\n"


def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(metavar="bash|zsh|fish", help="The shell.")],
) -> None:
    """Print the shell completion script.

    Install it, e.g.: jobctl completion bash > ~/.local/share/bash-completion/completions/jobctl
    """
    state = state_of(ctx)
    state.io.stdout.write(completion_script(shell))
    state.io.stdout.flush()
