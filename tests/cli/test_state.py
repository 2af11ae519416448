"""AppState: TLS options to the SDK, token redaction in -v logs, settings errors as exit 2."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobctl.cli.exitcodes import CliError
from jobctl.cli.io import IOStreams
from jobctl.cli.root import app
from jobctl.cli.state import AppState, GlobalOptions, RedactingFilter


def test_tls_options_reach_the_client(tmp_path: Path) -> None:
    plain = AppState(GlobalOptions(url="https://h"), IOStreams.test())
    assert "verify" not in plain.client_kwargs()
    insecure = AppState(GlobalOptions(url="https://h", insecure=True), IOStreams.test())
    assert insecure.client_kwargs()["verify"] is False
    assert "TLS certificates are NOT verified" in insecure.io.err_text()
    bundle = tmp_path / "ca.pem"
    bundle.write_text("pem")
    with_ca = AppState(GlobalOptions(url="https://h", ca_bundle=bundle), IOStreams.test())
    assert with_ca.client_kwargs()["verify"] == str(bundle)
    missing = AppState(GlobalOptions(ca_bundle=tmp_path / "nope.pem"), IOStreams.test())
    with pytest.raises(CliError, match="no such file"):
        missing.client_kwargs()


def test_redacting_filter_hides_token_and_bearer_values() -> None:
    record = logging.LogRecord(
        "jobctl", logging.DEBUG, __file__, 1, "sent %s with %s", ("tok-123", "Bearer abc.def"), None
    )
    RedactingFilter(["tok-123"]).filter(record)
    assert record.getMessage() == "sent *** with Bearer ***"


def _no_execv(path: str, argv: list[str]) -> None:
    raise AssertionError(f"jobctl server handed over to {argv}")


def test_server_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    monkeypatch.setitem(sys.modules, "mock_server", None)  # find_spec: not installed
    monkeypatch.setattr(os, "execv", _no_execv)
    result = CliRunner().invoke(app, ["server", "--port", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: the reference server is not installed: in your jobctl checkout, run "
        "pip install -e '.[server]' (not from PyPI: the name jobctl there is another project's)"
    )


def test_server_hands_over_to_python_m_mock_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    calls: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        calls.append((path, argv))
        raise SystemExit(0)  # a real execv never returns

    monkeypatch.setattr(os, "execv", execv)
    result = CliRunner().invoke(app, ["server", "--port", "0", "--token", "a:b", "-v"])
    assert result.exit_code == 0
    argv = [sys.executable, "-m", "mock_server", "--port", "0", "--token", "a:b", "-v"]
    assert calls == [(sys.executable, argv)]


def test_quiet_suppresses_hints_but_not_errors() -> None:
    st = AppState(GlobalOptions(quiet=True), IOStreams.test())
    st.hint("submitted")
    assert st.io.err_text() == "" and st.progress_mode == "none"


def test_precedence_flag_over_env_over_profile_at_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobctl import config

    config.set_value("url", "http://profile:1", profile="p")
    config.set_value("token", "profile-token", profile="p")
    seen: list[dict[str, object]] = []

    def capture(self: AppState) -> object:
        seen.append(self.client_kwargs())
        raise CliError("captured")

    monkeypatch.setattr(AppState, "async_client", capture)
    monkeypatch.setattr(AppState, "client", capture)  # status runs on the sync client
    monkeypatch.setenv("JOBCTL_PROFILE", "p")
    runner = CliRunner()
    runner.invoke(app, ["status", "x"])
    monkeypatch.setenv("JOBCTL_URL", "http://env:2")
    runner.invoke(app, ["status", "x"])
    runner.invoke(app, ["status", "x", "--url", "http://flag:3", "--token", "flag-token"])
    assert [(k["base_url"], k["token"]) for k in seen] == [
        ("http://profile:1", "profile-token"),
        ("http://env:2", "profile-token"),
        ("http://flag:3", "flag-token"),
    ]


def test_unexpected_error_is_one_line_exit_1_and_traceback_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: AppState) -> object:
        raise RuntimeError("boom with token sekrit-tok")

    monkeypatch.setattr(AppState, "async_client", broken)
    monkeypatch.setattr(AppState, "client", broken)
    runner = CliRunner()
    result = runner.invoke(app, ["status", "x", "--token", "sekrit-tok"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected error: RuntimeError: boom with token *** "
        "(run with --verbose for details)\n"
    )
    verbose = runner.invoke(app, ["status", "x", "-v", "--token", "sekrit-tok"])
    assert verbose.exit_code == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "sekrit-tok" not in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("error: unexpected error")
