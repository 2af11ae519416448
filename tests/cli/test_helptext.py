"""The pre-generated help (``jobctl.cli.helptext``) is exactly what Typer prints."""

from __future__ import annotations

import pytest

from jobctl.cli import _helptexts
from jobctl.cli.helptext import WIDTH, generate, lookup, typer_help


def test_committed_help_texts_match_the_app() -> None:
    texts, passthrough = generate()
    assert (texts, passthrough) == (_helptexts.TEXTS, _helptexts.PASSTHROUGH), (
        "src/jobctl/cli/_helptexts.py is stale: run python -m jobctl.cli.helptext --write"
    )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["-h"],
        ["status", "--help"],
        ["submit", "-h"],
        ["config", "set", "--help"],
        ["webhook", "verify", "-h"],
        ["--json", "status", "--help"],
        ["status", "abc", "--url", "http://x", "--help"],
        ["config", "--profile", "p", "unset", "-h"],
    ],
)
def test_lookup_prints_byte_for_byte_what_typer_prints(args: list[str]) -> None:
    text = lookup(args, columns=WIDTH)
    assert text is not None
    assert typer_help(args) == (0, text)


@pytest.mark.parametrize(
    "args",
    [
        ["status", "abc"],
        ["--version"],
        ["--json", "--help"],
        ["server", "--help"],
        ["status", "--", "--help"],
        ["nosuchcommand", "--help"],
    ],
)
def test_lookup_leaves_everything_else_to_typer(args: list[str]) -> None:
    assert lookup(args, columns=WIDTH) is None


def test_narrow_terminals_and_completion_go_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lookup(["--help"], columns=WIDTH - 1) is None
    assert lookup(["--help"], columns=WIDTH + 40) == _helptexts.TEXTS[""]
    monkeypatch.setenv("_JOBCTL_COMPLETE", "complete_bash")
    assert lookup(["--help"], columns=WIDTH) is None
