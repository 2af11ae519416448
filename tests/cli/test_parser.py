"""One parser: Typer's click parses every command line; commands load lazily from one table.

Global options are accepted before or after the command by that same parser (a
value after the command wins), ``--`` ends the options, a command's own option
of the same name stays its own, ``jobctl server`` passes everything through, and
help is always the help of the command that would run.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jobctl import config
from jobctl.cli.app import main as console_main
from jobctl.cli.commands import COMMANDS, PANELS
from jobctl.cli.exitcodes import CliError, ExitCode
from jobctl.cli.root import app, get_command
from jobctl.cli.state import AppState, GlobalOptions

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


class _Client:
    """Stands in for the SDK client of ``jobctl status``: records the request, then stops."""

    def __init__(self, options: GlobalOptions, seen: list[tuple[GlobalOptions, str]]) -> None:
        self.options, self.seen = options, seen

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get(self, ref: str) -> Any:
        self.seen.append((self.options, ref))
        raise CliError("recorded", ExitCode.NOT_FOUND)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[GlobalOptions, str]]]:
    """What ``jobctl status`` asked for: the options in force and the job reference."""
    requests: list[tuple[GlobalOptions, str]] = []
    monkeypatch.setattr(AppState, "client", lambda self: _Client(self.options, requests))
    loggers = {name: list(logging.getLogger(name).handlers) for name in ("jobctl", "httpx")}
    yield requests
    for name, handlers in loggers.items():  # -v adds a handler on the test's stderr
        logging.getLogger(name).handlers[:] = handlers


def status_request(seen: list[tuple[GlobalOptions, str]], *args: str) -> tuple[GlobalOptions, str]:
    code, out, err = invoke(*args)
    assert (code, out, err) == (6, "", "error: recorded\n"), (args, code, err)
    assert len(seen) == 1
    return seen.pop()


@pytest.mark.parametrize(
    ("args", "options", "job"),
    [
        (["status", "J"], GlobalOptions(), "J"),
        (["--json", "status", "J"], GlobalOptions(json=True), "J"),
        (["status", "J", "--json", "-q"], GlobalOptions(json=True, quiet=True), "J"),
        (["status", "J", "-qv"], GlobalOptions(quiet=True, verbose=True), "J"),
        (["-v", "status", "J", "--json"], GlobalOptions(json=True, verbose=True), "J"),
        (
            ["--url=http://h:1", "status", "J", "--token", "T", "--progress", "plain"],
            GlobalOptions(url="http://h:1", token="T", progress="plain"),
            "J",
        ),
        (["status", "--url=http://h:1", "J"], GlobalOptions(url="http://h:1"), "J"),
        (["--profile", "status", "status", "J"], GlobalOptions(profile="status"), "J"),
        (
            ["status", "J", "--ca-bundle", "ca.pem", "--insecure"],
            GlobalOptions(ca_bundle=Path("ca.pem"), insecure=True),
            "J",
        ),
        (
            ["status", "J", "--url", "http://a", "--url", "http://b"],
            GlobalOptions(url="http://b"),
            "J",
        ),
        (
            ["--url", "http://a", "status", "J", "--url", "http://b"],
            GlobalOptions(url="http://b"),
            "J",
        ),
        (
            ["--progress", "bar", "status", "J", "--progress", "none"],
            GlobalOptions(progress="none"),
            "J",
        ),
        (["--ci", "none", "status", "J", "--ci", "github"], GlobalOptions(ci="github"), "J"),
        (["status", "J", "--"], GlobalOptions(), "J"),
        (["status", "--", "--json"], GlobalOptions(), "--json"),
        (["--json", "status", "--", "-q"], GlobalOptions(json=True), "-q"),
        (["status", "--", "--help"], GlobalOptions(), "--help"),
    ],
)
def test_global_options_before_or_after_the_command_and_after_dashdash(
    seen: list[tuple[GlobalOptions, str]], args: list[str], options: GlobalOptions, job: str
) -> None:
    assert status_request(seen, *args) == (options, job)


_UNITS = [
    ["--json"],
    ["-q"],
    ["--quiet"],
    ["-v"],
    ["--insecure"],
    ["--url", "http://h:1"],
    ["--token", "T"],
    ["--profile", "p"],
    ["--progress", "plain"],
    ["--ca-bundle", "ca.pem"],
    ["--ci", "gitlab"],
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_UNITS), max_size=5, unique_by=lambda u: u[0]), st.data())
def test_any_split_of_the_global_options_around_the_command_means_the_same(
    units: list[list[str]], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(units)))
    before = [w for unit in units[:split] for w in unit]
    after = [w for unit in units[split:] for w in unit]
    requests: list[tuple[GlobalOptions, str]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AppState, "client", lambda self: _Client(self.options, requests))
        all_before = invoke(*before, *after, "status", "J")
        mixed = invoke(*before, "status", "J", *after)
    assert all_before == mixed
    assert len(requests) == 2 and requests[0] == requests[1]
    for name in ("jobctl", "httpx"):
        logging.getLogger(name).handlers.clear()


@pytest.mark.parametrize(
    ("args", "needle", "where"),
    [
        (["status"], "missing job", None),
        (["status", ""], "missing job", None),
        (["status", "a", "b"], "unexpected extra argument", "jobctl status"),
        (["status", "-x"], "no such option: -x", "jobctl status"),
        (["status", "J", "--url"], "requires an argument", None),  # click gives no ctx
        (["status", "J", "--json=1"], "does not take a value", None),
        (["status", "J", "--version"], "no such option: --version", "jobctl status"),
        (["--last", "status"], "no such option: --last", "jobctl"),
        (["status", "J", "--progress", "fancy"], "invalid --progress 'fancy'", None),
        (["--progress", "fancy", "status", "J"], "invalid --progress 'fancy'", None),
        (["status", "J", "--ci", "jenkins"], "invalid --ci 'jenkins'", None),
        (["nosuchcommand"], "no such command", "jobctl"),
        (["stauts", "J"], "did you mean 'status'", "jobctl"),
        (["--json"], "missing command", "jobctl"),
        (["config", "set", "url"], "missing argument", "jobctl config set"),
        (["webhook", "verify", "--tolerance", "soon"], "invalid value for '--tolerance'", None),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    seen: list[tuple[GlobalOptions, str]], args: list[str], needle: str, where: str | None
) -> None:
    code, out, err = invoke(*args)
    line = one_error_line(err)
    assert (code, out) == (2, "") and needle in line.lower(), line
    if where is not None:
        assert line.endswith(f"(see '{where} --help')")
    assert seen == []


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["status", "--help"], "Usage: jobctl status [OPTIONS] [JOB]"),
        (["status", "-h"], "Usage: jobctl status [OPTIONS] [JOB]"),
        (["--json", "status", "--help"], "Usage: jobctl status [OPTIONS] [JOB]"),
        (["status", "abc", "--url", "http://x", "--help"], "Usage: jobctl status [OPTIONS] [JOB]"),
        (["--profile", "status", "submit", "--help"], "Usage: jobctl submit [OPTIONS] {TYPE}"),
        (["config", "--profile", "p", "unset", "-h"], "Usage: jobctl config unset [OPTIONS] {KEY}"),
        (["webhook", "verify", "-h"], "Usage: jobctl webhook verify [OPTIONS] [FILE|-]"),
        (["config"], "Usage: jobctl config [OPTIONS] COMMAND [ARGS]..."),
        ([], "Usage: jobctl [OPTIONS] COMMAND [ARGS]..."),
        (["-h"], "Usage: jobctl [OPTIONS] COMMAND [ARGS]..."),
    ],
)
def test_help_is_the_help_of_the_command_that_would_run(args: list[str], usage: str) -> None:
    code, out, err = invoke(*args)
    assert (code, err) == (0, "") and out.startswith(usage + "\n"), out


def test_profile_named_like_a_command_is_the_profile_with_and_without_help() -> None:
    code, out, _ = invoke("--profile", "status", "submit", "--help")
    assert code == 0 and out.startswith("Usage: jobctl submit")
    code, out, err = invoke("--profile", "status", "submit", "echo")
    assert (code, out) == (2, "") and "unknown profile 'status'" in one_error_line(err)


def test_config_set_profile_is_the_commands_own_option() -> None:
    assert invoke("config", "set", "url", "http://a:1", "--profile", "p", "--json")[0] == 0
    assert invoke("--profile", "q", "config", "set", "url", "http://b:1")[0] == 0
    assert invoke("config", "--profile", "q", "set", "timeout", "90")[0] == 0
    assert config.get_value("url", "p") == "http://a:1"
    assert config.get_value("url", None) == "http://b:1"
    assert config.get_value("timeout", None) == 90.0
    code, out, _ = invoke("config", "list", "--profile", "p", "--json")
    assert code == 0 and json.loads(out) == {"p": {"url": "http://a:1"}}


@pytest.mark.parametrize(
    ("args", "forwarded"),
    [
        (
            ["server", "--port", "0", "--token", "alice:tok", "-v", "--json", "--help"],
            ["--port", "0", "--token", "alice:tok", "-v", "--json", "--help"],
        ),
        (["-v", "--url", "http://x", "server", "--db", ":memory:"], ["--db", ":memory:"]),
        (["server", "-q", "--", "--profile", "p"], ["-q", "--profile", "p"]),  # click takes --
        (["server"], []),
    ],
)
def test_server_passes_every_argument_through(
    monkeypatch: pytest.MonkeyPatch, args: list[str], forwarded: list[str]
) -> None:
    import os
    import sys

    calls: list[list[str]] = []

    def execv(path: str, argv: list[str]) -> None:
        assert path == sys.executable and argv[:3] == [sys.executable, "-m", "mock_server"]
        calls.append(argv[3:])
        raise SystemExit(0)  # a real execv never returns

    monkeypatch.setattr(os, "execv", execv)
    assert invoke(*args) == (0, "", "")
    assert calls == [forwarded]


def test_version_alone_is_answered_early_with_the_parsers_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert console_main(["--version"]) == 0
    early = capsys.readouterr()
    assert (early.err, invoke("--version")) == ("", (0, early.out, ""))
    assert invoke("--json", "--version") == (0, early.out, "")


def _tree(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _tree(sub, (*path, name))


def test_the_table_is_the_command_list_and_its_help() -> None:
    root = get_command()
    assert root.list_commands(None) == [e.name for e in COMMANDS]
    assert len({e.name for e in COMMANDS}) == len(COMMANDS)
    assert {e.panel for e in COMMANDS} == set(PANELS)
    code, out, _ = invoke("--help")
    listing = " ".join(out.split())
    for entry in COMMANDS:
        command = root.get_command(None, entry.name)
        assert command.name == entry.name
        assert (command.help or "").split("\n\n")[0] == entry.help, entry.name
        assert f"{entry.name} {entry.help}" in listing, entry.name
    assert code == 0 and all(f"{panel}:" in out for panel in PANELS)


def test_global_options_are_declared_once_and_every_command_takes_them() -> None:
    root = get_command()
    globals_ = {p.name: p.opts for p in root.params if p.name != "version"}
    assert set(globals_) == set(GlobalOptions.__dataclass_fields__)
    for path, command in _tree(root):
        if not path or path == ("server",):
            continue
        own = {p.name: p for p in command.params if not p.hidden}
        names = {p.name: p for p in command.params}
        for name, opts in globals_.items():
            assert name in names, (path, name)
            param = names[name]
            assert param.opts == opts or name in own, (path, name)
            assert param.hidden or name in own, (path, name)
    assert get_command().get_command(None, "server").params == []


def test_commands_load_once_per_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    root = get_command()
    assert root.get_command(None, "status") is root.get_command(None, "status")
    assert root.get_command(None, "nosuch") is None


_PROBE = """\
import sys
from jobctl.cli.app import main
code = main(sys.argv[1:])
mods = sorted(m for m in sys.modules if m.startswith("jobctl.cli.commands."))
heavy = [m for m in ("httpx", "pydantic", "rich", "asyncio", "mock_server") if m in sys.modules]
print("PROBE", code, ",".join(mods), ",".join(heavy))
"""


def _probe(*args: str) -> tuple[str, set[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("PROBE")][-1].split(" ")
    code, commands, heavy = line[1], *(set(filter(None, part.split(","))) for part in line[2:4])
    return code, {c.removeprefix("jobctl.cli.commands.") for c in commands}, heavy


@pytest.mark.parametrize(
    ("args", "modules"),
    [
        (["--help"], set()),
        ([], set()),
        (["status", "--help"], {"_common", "status"}),
        (["config", "set", "--help"], {"_common", "config_cmd"}),
        (["--json", "webhook", "verify", "-h"], {"_common", "webhook"}),
    ],
)
def test_help_imports_only_the_command_it_shows(args: list[str], modules: set[str]) -> None:
    code, loaded, heavy = _probe(*args)
    assert code == "0" and loaded == modules
    assert not heavy & {"httpx", "rich", "asyncio", "mock_server"}
    if len(args) <= 1:
        assert "pydantic" not in heavy


def _python_files() -> Iterator[Path]:
    for folder in ("src", "mock_server", "tests", "benchmarks"):
        yield from (ROOT / folder).rglob("*.py")


def test_no_private_typer_or_click_imports() -> None:
    private = re.compile(r"\b(?:typer|click)\.(?=_)|\bfrom (?:typer|click)\S* import \(?\s*_")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _python_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []


def test_the_parser_is_pinned() -> None:
    """Typer (which vendors click since 0.26) and rich are bounded to the versions tested."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("typer", "rich"):
        (spec,) = [d for d in deps if re.match(rf"{name}\b", d)]
        assert ">=" in spec and "<" in spec.replace("<=", ""), spec
