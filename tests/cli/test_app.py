"""Parsing and output of the app with Typer's CliRunner (no server needed)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobctl import config
from jobctl._version import __version__
from jobctl.cli.root import app

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_version() -> None:
    assert invoke("--version") == (0, f"jobctl {__version__}\n", "")


def test_help_and_no_args() -> None:
    code, out, _ = invoke("--help")
    assert code == 0 and "submit" in out and "Exit codes" in out
    code, out, _ = invoke()
    assert code == 0 and "Usage: jobctl" in out
    code, out, _ = invoke("config")
    assert code == 0 and "set" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bogus"], "no such option: --bogus"),
        (["submit"], "missing argument"),
        (["wait", "--timeout"], "requires an argument"),
        (["nosuchcommand"], "no such command"),
    ],
)
def test_bad_flags_are_one_line_exit_2(args: list[str], needle: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2 and out == ""
    assert needle in one_error_line(err).lower()


def test_bad_json_input_names_line_and_column() -> None:
    code, out, err = invoke("submit", "echo", "-i", '{\n "a": 1,\n}')
    assert code == 2 and out == ""
    assert "invalid JSON in -i at line 3, column 1" in one_error_line(err)


def test_bad_json_on_stdin() -> None:
    code, _, err = invoke("submit", "echo", "-i", "-", input="[1, 2")
    assert code == 2 and "-i (stdin) at line 1" in one_error_line(err)


@pytest.mark.parametrize(
    "args",
    [
        ["--progress", "sparkly", "config", "list"],
        ["submit", "echo", "--timeout", "soon"],
        ["submit", "echo", "--strategy", "psychic"],
        ["submit", "echo", "--webhook-secret", "s"],
        ["wait"],
        ["wait", "--last"],
        ["list", "--limit", "0"],
    ],
)
def test_usage_errors_exit_2_without_touching_a_server(args: list[str]) -> None:
    code, out, err = invoke(*args)
    assert code == 2 and out == ""
    one_error_line(err)


def test_unknown_profile_exit_2_names_how_to_fix() -> None:
    config.set_value("url", "http://127.0.0.1:9", profile="work")
    code, _, err = invoke("--profile", "nope", "status", "abc")
    line = one_error_line(err)
    assert code == 2 and "unknown profile 'nope' (profiles: work)" in line
    code, _, err = invoke("config", "get", "url", "--profile", "nope")
    assert code == 2 and "unknown profile" in one_error_line(err)


def test_global_options_before_or_after_the_command() -> None:
    config.set_value("url", "http://127.0.0.1:9")
    before = invoke("--json", "config", "list")
    after = invoke("config", "list", "--json")
    assert before == after
    assert json.loads(before[1]) == {"": {"url": "http://127.0.0.1:9"}}


def test_config_set_get_list_unset_and_token_hygiene(isolated_env: Path) -> None:
    assert invoke("config", "set", "token", "s3cr3t-token", "--profile", "ci")[0] == 0
    assert invoke("config", "set", "url", "http://ci:1/", "--profile", "ci")[0] == 0
    assert invoke("config", "set", "timeout", "15m")[0] == 0
    code, out, err = invoke("config", "list")
    assert code == 0 and "s3cr3t" not in out + err
    assert out.splitlines() == [
        "timeout = 900.0",
        "[profiles.ci]",
        "url = http://ci:1",
        "token = ***",
    ]
    assert invoke("config", "get", "url", "--profile", "ci")[1] == "http://ci:1\n"
    assert invoke("config", "get", "token", "--profile", "ci")[1] == "***\n"
    path = Path(invoke("config", "path")[1].strip())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert invoke("config", "unset", "timeout")[0] == 0
    code, _, err = invoke("config", "get", "timeout")
    assert code == 6 and "timeout is not set" in one_error_line(err)
    code, _, err = invoke("config", "set", "colour", "red")
    assert code == 2 and "unknown config key" in one_error_line(err)


def test_profile_token_is_used_but_never_printed_in_errors() -> None:
    config.set_value("token", "profile-secret-token", profile="p")
    config.set_value("url", "http://127.0.0.1:9", profile="p")
    s = config.resolve_settings(profile="p")
    assert s.token == "profile-secret-token" and "profile-secret" not in repr(s)


def test_completion_scripts_match_the_committed_files() -> None:
    root = Path(__file__).resolve().parents[2] / "completions"
    for shell, name in (("bash", "jobctl.bash"), ("zsh", "_jobctl"), ("fish", "jobctl.fish")):
        code, out, _ = invoke("completion", shell)
        assert code == 0
        assert out == (root / name).read_text(), f"completions/{name} is stale: regenerate it"
    code, _, err = invoke("completion", "tcsh")
    assert code == 2 and "unsupported shell" in one_error_line(err)


def test_cli_reference_is_current() -> None:
    from jobctl.cli.docs import render_markdown

    committed = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert committed.read_text() == render_markdown(), (
        "docs/cli.md is stale: run python -m jobctl.cli.docs --write docs/cli.md"
    )


def _bash_complete(*words: str) -> list[str]:
    """What the committed bash script offers after ``words`` (the last one being typed)."""
    script = Path(__file__).resolve().parents[2] / "completions" / "jobctl.bash"
    probe = (
        f'source {script}; COMP_WORDS=(jobctl "$@"); COMP_CWORD=$#; _jobctl; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", probe, "bash", *words], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (["con"], ["config"]),
        (["submit", "--ti"], ["--timeout"]),
        (["status", "J", "--js"], ["--json"]),
        (["--progress", ""], ["auto", "bar", "plain", "none"]),
        (["--profile", "status", "sub"], ["submit"]),
        (["config", ""], ["set", "get", "unset", "list", "path"]),
        (["config", "set", "--pro"], ["--profile", "--progress"]),
        (["wait", "--strategy", "p"], ["poll"]),
        (["completion", ""], ["bash", "zsh", "fish"]),
        (["result", "-o", ""], []),
        (["server", "--"], []),
    ],
)
def test_bash_completion_walks_the_command_tree(words: list[str], offered: list[str]) -> None:
    assert _bash_complete(*words) == offered


_ZSH_PROBE = """
compdef() { }
compadd() { shift; local a; for a; do print -rl -- ${(P)a}; done }
_files() { print -r -- FILES }
source $1; shift
words=(jobctl "$@"); CURRENT=${#words}
_jobctl
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (["--profile", "status", ""], ["submit", "call", "status", "wait", "events", "cancel"]),
        (["--progress", ""], ["auto", "bar", "plain", "none"]),
        (["webhook", ""], ["verify", "listen"]),
        (["result", "-o", ""], ["FILES"]),
    ],
)
def test_zsh_completion_walks_the_command_tree(words: list[str], offered: list[str]) -> None:
    script = Path(__file__).resolve().parents[2] / "completions" / "_jobctl"
    done = subprocess.run(
        ["zsh", "-fc", _ZSH_PROBE, "zsh", str(script), *words],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split()[: len(offered)] == offered


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("jobctl con", ["config"]),
        ("jobctl --profile status sub", ["submit"]),
        ("jobctl config set --pro", ["--profile", "--progress"]),
        ("jobctl --progress ", ["auto", "bar", "none", "plain"]),
    ],
)
def test_fish_completion_walks_the_command_tree(line: str, offered: list[str]) -> None:
    script = Path(__file__).resolve().parents[2] / "completions" / "jobctl.fish"
    probe = f"source {script}; complete -C {line!r}"
    done = subprocess.run(
        ["fish", "--no-config", "-c", probe], capture_output=True, text=True, check=True
    )
    assert sorted(row.split("\t")[0] for row in done.stdout.splitlines()) == sorted(offered)
