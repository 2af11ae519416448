"""jobctl.config: precedence, profiles, file mode, durations, token hygiene."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jobctl import config
from jobctl.config import ConfigError, Settings, parse_duration, resolve_settings


def test_defaults_without_file_or_env() -> None:
    s = resolve_settings()
    assert s == Settings(url="http://127.0.0.1:8000", token=None, profile=None, progress="auto")


def test_precedence_flag_env_profile_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config.set_value("url", "http://file-default:1")
    config.set_value("url", "http://profile:2", profile="p")
    config.set_value("token", "profile-token", profile="p")
    assert resolve_settings().url == "http://file-default:1"
    assert resolve_settings(profile="p").url == "http://profile:2"
    monkeypatch.setenv("JOBCTL_PROFILE", "p")
    assert resolve_settings().token == "profile-token"
    monkeypatch.setenv("JOBCTL_URL", "http://env:3/")
    assert resolve_settings().url == "http://env:3"
    assert resolve_settings(url="http://flag:4").url == "http://flag:4"


def test_profile_falls_back_to_top_level_values() -> None:
    config.set_value("progress", "plain")
    config.set_value("url", "http://p:1", profile="p")
    s = resolve_settings(profile="p")
    assert (s.url, s.progress, s.profile) == ("http://p:1", "plain", "p")


def test_unknown_profile_names_known_ones() -> None:
    config.set_value("url", "http://a:1", profile="alpha")
    with pytest.raises(ConfigError, match=r"unknown profile 'nope' \(profiles: alpha\)"):
        resolve_settings(profile="nope")


def test_file_is_written_0600_and_existing_file_tightened(isolated_env: Path) -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text('url = "http://x:1"\n')
    os.chmod(path, 0o644)
    config.set_value("token", "sekrit")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "sekrit" in path.read_text()


def test_token_never_in_repr_or_list() -> None:
    config.set_value("token", "sekrit-token")
    s = resolve_settings()
    assert s.token == "sekrit-token"
    assert "sekrit" not in repr(s) and "sekrit" not in str(s)
    assert config.list_values() == {"": {"token": "***"}}


def test_set_get_unset_and_validation() -> None:
    config.set_value("timeout", "15m", profile="ci")
    assert config.get_value("timeout", profile="ci") == 900.0
    assert resolve_settings(profile="ci").timeout == 900.0
    assert config.unset_value("timeout", profile="ci") is True
    assert config.unset_value("timeout", profile="ci") is False
    with pytest.raises(ConfigError, match="unknown config key"):
        config.set_value("colour", "red")
    with pytest.raises(ConfigError, match="invalid progress mode"):
        config.set_value("progress", "fancy")
    with pytest.raises(ConfigError, match="must start with http"):
        config.set_value("url", "ftp://x")


def test_bad_toml_is_a_config_error(isolated_env: Path) -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("url = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_settings()


def test_bad_env_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_PROGRESS", "sparkly")
    with pytest.raises(ConfigError, match="invalid progress mode"):
        resolve_settings()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1.5m", 90.0), (" 0 ", 0.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-1", "5d", "nan", "inf", "m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)
