"""Global options after the command: move them in front of it before click parses.

click only accepts a group's options before the subcommand
(``jobctl --json status X``). CLI.md promises them after it too
(``jobctl status X --json``). ``hoist_global_options`` rewrites the argument
list so every recognised global option comes first, leaving alone:

- options the subcommand defines itself (``config set --profile P`` is the
  command's own ``--profile``), and the values of its value-taking options;
- everything after ``--``;
- everything after a command that forwards unknown options (``jobctl server``).

The function is pure: it takes a description of the command tree, not click.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["CommandSpec", "hoist_global_options"]


@dataclass(frozen=True)
class CommandSpec:
    """What the hoister needs to know about one (sub)command.

    Args:
        value_options: the command's own options that take a value.
        flag_options: the command's own options that take none.
        subcommands: the names of its subcommands (for groups).
        passthrough: True when the command forwards unknown options (stop hoisting).
    """

    value_options: frozenset[str] = frozenset()
    flag_options: frozenset[str] = frozenset()
    subcommands: frozenset[str] = frozenset()
    passthrough: bool = False


def hoist_global_options(
    args: Sequence[str],
    *,
    global_value: frozenset[str],
    global_flags: frozenset[str],
    lookup: Callable[[tuple[str, ...]], CommandSpec | None],
) -> list[str]:
    """Return ``args`` with global options moved in front of the first command name.

    Args:
        args: the command-line arguments (without the program name).
        global_value: global options that take a value (``--url``).
        global_flags: global options that take none (``--json``, ``-q``).
        lookup: the spec of a command path (``("config", "set")``), None when unknown.
    """
    front: list[str] = []
    rest: list[str] = []
    path: tuple[str, ...] = ()
    spec = lookup(path)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if spec is not None and spec.passthrough and path:
            rest.extend(args[i:])
            break
        name, has_inline_value = _split(arg)
        own_value = spec is not None and name in spec.value_options
        own_flag = spec is not None and name in spec.flag_options
        if arg.startswith("-") and not own_value and not own_flag:
            if name in global_value:
                take = 1 if has_inline_value else 2
                (front if path else rest).extend(args[i : i + take])
                i += take
                continue
            if name in global_flags:
                (front if path else rest).append(arg)
                i += 1
                continue
        if own_value and not has_inline_value:
            rest.extend(args[i : i + 2])
            i += 2
            continue
        if not arg.startswith("-") and spec is not None and arg in spec.subcommands:
            path = (*path, arg)
            spec = lookup(path)
        rest.append(arg)
        i += 1
    return front + rest


def _split(arg: str) -> tuple[str, bool]:
    if arg.startswith("--") and "=" in arg:
        return arg.split("=", 1)[0], True
    return arg, False
