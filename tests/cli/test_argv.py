"""Global options after the command are hoisted in front of it; command-local ones stay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobctl.cli.argv import CommandSpec, hoist_global_options

VALUE = frozenset({"--url", "--token", "--profile", "--progress"})
FLAGS = frozenset({"--json", "-q", "--quiet", "-v"})
TREE = {
    (): CommandSpec(subcommands=frozenset({"status", "config", "server", "submit"})),
    ("status",): CommandSpec(flag_options=frozenset({"--last"})),
    ("submit",): CommandSpec(value_options=frozenset({"-i", "--timeout"})),
    ("config",): CommandSpec(subcommands=frozenset({"set"})),
    ("config", "set"): CommandSpec(value_options=frozenset({"--profile"})),
    ("server",): CommandSpec(passthrough=True),
}


def hoist(*args: str) -> list[str]:
    return hoist_global_options(list(args), global_value=VALUE, global_flags=FLAGS, lookup=TREE.get)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["status", "X", "--json"], ["--json", "status", "X"]),
        (["--json", "status", "X"], ["--json", "status", "X"]),
        (
            ["status", "X", "--url", "http://h:1", "-q"],
            ["--url", "http://h:1", "-q", "status", "X"],
        ),
        (["status", "--url=http://h:1", "X"], ["--url=http://h:1", "status", "X"]),
        (["status", "X", "--", "--json"], ["status", "X", "--", "--json"]),
    ],
)
def test_globals_move_in_front(given: list[str], expected: list[str]) -> None:
    assert hoist(*given) == expected


def test_command_own_option_with_the_same_name_stays() -> None:
    assert hoist("config", "set", "url", "http://x", "--profile", "p", "--json") == [
        "--json",
        "config",
        "set",
        "url",
        "http://x",
        "--profile",
        "p",
    ]


def test_values_of_command_options_are_not_mistaken_for_globals() -> None:
    assert hoist("submit", "echo", "-i", "--json", "--timeout", "5") == [
        "submit",
        "echo",
        "-i",
        "--json",
        "--timeout",
        "5",
    ]


def test_passthrough_command_keeps_everything() -> None:
    args = ["server", "--port", "0", "--token", "alice:tok", "-v"]
    assert hoist(*args) == args


def test_global_before_command_with_value_is_not_a_subcommand() -> None:
    assert hoist("--profile", "status", "status", "X") == ["--profile", "status", "status", "X"]


units = st.sampled_from(
    [["status"], ["X"], ["--json"], ["-q"], ["--url", "http://h:1"], ["--last"], ["-v"], ["Y"]]
)


@given(st.lists(units, max_size=8))
def test_hoisting_only_reorders_and_keeps_non_globals_in_order(parts: list[list[str]]) -> None:
    args = [word for part in parts for word in part]
    out = hoist(*args)
    assert sorted(out) == sorted(args)
    globals_ = {"--json", "-q", "-v", "--url", "http://h:1"}
    assert [a for a in out if a not in globals_] == [a for a in args if a not in globals_]
    assert hoist(*out) == out  # idempotent
    if "status" in out:  # the first "status" is the command: every global comes before it
        assert all(a not in globals_ for a in out[out.index("status") :])
