"""``jobctl completion bash|zsh|fish``: print a shell completion script made from the command tree.

The scripts are static: they hold every command path's subcommands, options and
option values, so pressing Tab never starts Python. Each walks the words before
the cursor the way click does (an option that takes a value skips that value;
``server`` takes everything after it), then offers the subcommands and argument
values of the command reached, its options after ``-``, or an option's values.
An option's or argument's values are listed when its metavar names them
(``auto|bar|plain|none``); otherwise the shell completes file names. The same
text is committed in ``completions/`` and a test fails when the two differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from ..exitcodes import CliError
from ._common import state_of

__all__ = ["SHELLS", "completion", "completion_script"]

SHELLS = ("bash", "zsh", "fish")
_CHOICES = re.compile(r"[a-z]+(?:\|[a-z]+)+")


@dataclass(frozen=True)
class _Option:
    names: tuple[str, ...]
    takes_value: bool
    choices: tuple[str, ...]
    help: str


@dataclass(frozen=True)
class _Node:
    path: str
    commands: tuple[tuple[str, str], ...]
    options: tuple[_Option, ...]
    arguments: tuple[str, ...]


def _choices(metavar: Any) -> tuple[str, ...]:
    return (
        tuple(metavar.split("|"))
        if isinstance(metavar, str) and _CHOICES.fullmatch(metavar)
        else ()
    )


def _walk(command: Any, ctx: Any, path: str) -> list[_Node]:
    from . import BY_NAME

    subs = getattr(command, "commands", None) or {}
    commands: list[tuple[str, str]] = []
    nodes: list[_Node] = []
    for name in subs:
        sub = subs[name]
        sub_ctx = sub.context_class(sub, info_name=name, parent=ctx, **sub.context_settings)
        nodes += _walk(sub, sub_ctx, f"{path} {name}")
        help_text = BY_NAME[name].help if path == "jobctl" else sub.get_short_help_str(limit=80)
        commands.append((name, help_text))
    options: list[_Option] = []
    arguments: tuple[str, ...] = ()
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            arguments += _choices(param.metavar)
            continue
        value = not (param.is_flag or param.count)
        names = tuple(sorted((*param.opts, *param.secondary_opts), key=len))
        help_text = " ".join((param.help or "").split())
        options.append(_Option(names, value, _choices(param.metavar) if value else (), help_text))
    return [_Node(path, tuple(commands), tuple(options), arguments), *nodes]


def _tree() -> list[_Node]:
    from ..root import get_command

    root = get_command()
    return _walk(
        root, root.context_class(root, info_name="jobctl", **root.context_settings), "jobctl"
    )


def _value_choices(nodes: list[_Node]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for option in (o for node in nodes for o in node.options if o.choices):
        for name in option.names:
            if found.setdefault(name, option.choices) != option.choices:  # pragma: no cover
                raise RuntimeError(f"{name} takes different values in different commands")
    return found


def _words(items: Any) -> str:
    return " ".join(items)


def _flags(node: _Node, *, valued: bool = False) -> str:
    return _words(n for o in node.options if o.takes_value or not valued for n in o.names)


def _cases(nodes: list[_Node], wrap: Callable[[str], str]) -> tuple[str, str]:
    """The ``case`` arms of the node and option-value functions (bash and zsh alike)."""
    nodes_ = "".join(
        f"    '{n.path}')\n"
        f"        _subs={wrap(_words(c for c, _ in n.commands))}\n"
        f"        _flags={wrap(_flags(n))}\n"
        f"        _valued={wrap(_flags(n, valued=True))}\n"
        f"        _args={wrap(_words(n.arguments))} ;;\n"
        for n in nodes
    )
    values = "".join(
        f"    {name}) _choices={wrap(_words(c))} ;;\n" for name, c in _value_choices(nodes).items()
    )
    return nodes_, values


def _bash(nodes: list[_Node]) -> str:
    cases, values = _cases(nodes, lambda words: f"'{words}'")
    return f"""\
# bash completion for jobctl, generated from its command tree by `jobctl completion bash`.
# Install: jobctl completion bash > ~/.local/share/bash-completion/completions/jobctl

_jobctl_node() {{
    case $1 in
{cases}    *) _subs='' _flags='' _valued='' _args='' ;;
    esac
}}

_jobctl_choices() {{
    case $1 in
{values}    *) _choices='' ;;
    esac
}}

_jobctl() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} node=jobctl word i value=''
    local _subs _flags _valued _args _choices
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        _jobctl_node "$node"
        if [[ -n $value ]]; then
            value=''
        elif [[ " $_valued " == *" $word "* ]]; then
            value=$word
        elif [[ $word != -* && " $_subs " == *" $word "* ]]; then
            node="$node $word"
        fi
    done
    _jobctl_node "$node"
    if [[ -n $value ]]; then
        _jobctl_choices "$value"
        COMPREPLY=($(compgen -W "$_choices" -- "$cur"))
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$_subs $_args" -- "$cur"))
    fi
}}

complete -o default -F _jobctl jobctl
"""


def _zsh(nodes: list[_Node]) -> str:
    cases, values = _cases(nodes, lambda words: f"({words})")
    return f"""\
#compdef jobctl
# zsh completion for jobctl, generated from its command tree by `jobctl completion zsh`.
# Install: jobctl completion zsh > "${{fpath[1]}}/_jobctl" (or source it after compinit)

_jobctl_node() {{
    case $1 in
{cases}    *) _subs=() _flags=() _valued=() _args=() ;;
    esac
}}

_jobctl_choices() {{
    case $1 in
{values}    *) _choices=() ;;
    esac
}}

_jobctl() {{
    local node=jobctl word value= i
    local -a _subs _flags _valued _args _choices
    for (( i = 2; i < CURRENT; i++ )); do
        word=${{words[i]}}
        _jobctl_node $node
        if [[ -n $value ]]; then
            value=
        elif (( ${{_valued[(Ie)$word]}} )); then
            value=$word
        elif [[ $word != -* ]] && (( ${{_subs[(Ie)$word]}} )); then
            node="$node $word"
        fi
    done
    _jobctl_node $node
    if [[ -n $value ]]; then
        _jobctl_choices $value
        if (( $#_choices )); then compadd -a _choices; else _files; fi
    elif [[ ${{words[CURRENT]}} == -* ]]; then
        compadd -a _flags
    elif (( $#_subs + $#_args )); then
        compadd -a _subs _args
    else
        _files
    fi
}}

if [[ $funcstack[1] == _jobctl ]]; then
    _jobctl "$@"
else
    compdef _jobctl jobctl
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(nodes: list[_Node]) -> str:
    subs = "".join(
        f"        case {_fish_quote(n.path)}\n            echo {_words(c for c, _ in n.commands)}\n"
        for n in nodes
        if n.commands
    )
    valued = "".join(
        f"        case {_fish_quote(n.path)}\n            echo {_flags(n, valued=True)}\n"
        for n in nodes
        if _flags(n, valued=True)
    )
    lines: list[str] = []
    for n in nodes:
        at = f"-n {_fish_quote('__jobctl_at ' + n.path)}"
        for name, help_text in n.commands:
            lines.append(f"complete -c jobctl {at} -f -a {name} -d {_fish_quote(help_text)}")
        if n.arguments:
            lines.append(f"complete -c jobctl {at} -f -a {_fish_quote(_words(n.arguments))}")
        for o in n.options:
            flags = " ".join(
                f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}" for name in o.names
            )
            value = (
                f" -x -a {_fish_quote(_words(o.choices))}" if o.choices else " -r" * o.takes_value
            )
            lines.append(f"complete -c jobctl {at} {flags}{value} -d {_fish_quote(o.help)}")
    body = "\n".join(lines)
    return f"""\
# fish completion for jobctl, generated from its command tree by `jobctl completion fish`.
# Install: jobctl completion fish > ~/.config/fish/completions/jobctl.fish

function __jobctl_subs
    switch "$argv"
{subs}    end
end

function __jobctl_valued
    switch "$argv"
{valued}    end
end

function __jobctl_at --description 'True when the words before the cursor reach this command'
    set -l node jobctl
    set -l value 0
    set -l words (commandline -opc)
    set -e words[1]
    for word in $words
        if test $value = 1
            set value 0
        else if contains -- $word (string split ' ' -- (__jobctl_valued $node))
            set value 1
        else if string match -q -- '-*' $word
            continue
        else if contains -- $word (string split ' ' -- (__jobctl_subs $node))
            set node "$node $word"
        end
    end
    test "$node" = "$argv"
end

{body}
"""


def completion_script(shell: str) -> str:
    """The completion script for a shell, ending with a newline.

    Args:
        shell: ``bash``, ``zsh`` or ``fish``.
    """
    if shell not in SHELLS:
        raise CliError(f"unsupported shell {shell!r}: use bash, zsh or fish")
    render = {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell]
    return render(_tree())


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
