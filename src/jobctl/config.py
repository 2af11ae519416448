"""Settings for the CLI and the SDK: flags and arguments, environment, TOML profiles, defaults.

Precedence, highest first: an explicit argument (a CLI flag) > the environment
(``JOBCTL_URL``, ``JOBCTL_TOKEN``, ``JOBCTL_PROFILE``, ``JOBCTL_PROGRESS``,
``JOBCTL_TIMEOUT``) > the selected profile in the config file > the file's
top-level (default) values > built-in defaults.

The config file is TOML at ``platformdirs.user_config_dir("jobctl")/config.toml``
(``JOBCTL_CONFIG`` overrides the path)::

    url = "http://127.0.0.1:8000"      # the default profile: top-level keys
    progress = "auto"

    [profiles.staging]
    url = "https://jobs.staging.example"
    token = "..."
    timeout = 600

It is written with mode 0600 because it may hold tokens. Tokens never appear
in a ``repr``, an error message or ``list_values``' output.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import JobctlError

__all__ = [
    "DEFAULT_URL",
    "KEYS",
    "PROGRESS_MODES",
    "ConfigError",
    "Settings",
    "config_path",
    "get_value",
    "list_values",
    "load_config",
    "parse_duration",
    "resolve_settings",
    "save_config",
    "set_value",
    "unset_value",
]

DEFAULT_URL = "http://127.0.0.1:8000"
KEYS: tuple[str, ...] = ("url", "token", "progress", "timeout")
PROGRESS_MODES: tuple[str, ...] = ("auto", "bar", "plain", "none")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class ConfigError(JobctlError):
    """The configuration is unusable: unknown profile or key, bad value, unreadable file.

    The message never contains a token.
    """


@dataclass(frozen=True)
class Settings:
    """The resolved settings one client or command runs with.

    Args:
        url: the API base URL, without a trailing slash.
        token: the bearer token, or None (never shown by ``repr``).
        profile: the profile the values came from, or None for the default.
        progress: one of ``auto``, ``bar``, ``plain``, ``none``.
        timeout: the default overall wait timeout in seconds, or None for no limit.
    """

    url: str
    token: str | None = field(default=None, repr=False)
    profile: str | None = None
    progress: str = "auto"
    timeout: float | None = None

    def __repr__(self) -> str:
        token = "'***'" if self.token else "None"
        return (
            f"Settings(url={self.url!r}, token={token}, profile={self.profile!r}, "
            f"progress={self.progress!r}, timeout={self.timeout!r})"
        )


def parse_duration(text: str | float | int) -> float:
    """Parse a duration: ``90``, ``90s``, ``1.5m``, ``15m``, ``2h`` -> seconds.

    Args:
        text: the duration; a bare number means seconds.

    Raises:
        ConfigError: the text is not a non-negative duration.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip().lower()
        unit = 1.0
        if raw and raw[-1] in _DURATION_UNITS:
            unit = _DURATION_UNITS[raw[-1]]
            raw = raw[:-1].strip()
        try:
            value = float(raw) * unit
        except ValueError:
            raise ConfigError(
                f"invalid duration {text!r}: use seconds or a unit, e.g. 90, 90s, 15m, 2h"
            ) from None
    if value != value or value < 0 or value == float("inf"):
        raise ConfigError(f"invalid duration {text!r}: must be a finite number >= 0")
    return value


def config_path() -> Path:
    """The config file's path: ``$JOBCTL_CONFIG`` or the platform's user config dir."""
    override = os.environ.get("JOBCTL_CONFIG")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("jobctl")) / "config.toml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """Read the config file; a missing file is an empty config.

    Args:
        path: the file to read (default: ``config_path()``).

    Raises:
        ConfigError: the file exists but is not valid TOML or cannot be read.
    """
    path = path or config_path()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return data


def save_config(data: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write the config file with mode 0600 (existing files are tightened to 0600 too).

    Args:
        data: the whole config document.
        path: the file to write (default: ``config_path()``).

    Returns:
        The path written.
    """
    import tomli_w

    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = tomli_w.dumps(dict(data)).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return path


def _check_key(key: str) -> None:
    if key not in KEYS:
        raise ConfigError(f"unknown config key {key!r}: use one of {', '.join(KEYS)}")


def _normalise(key: str, value: Any) -> Any:
    """Validate one value as stored in the file (or given by env / argument)."""
    if key == "url":
        text = str(value).strip()
        if not text.startswith(("http://", "https://")):
            raise ConfigError(f"invalid url {text!r}: it must start with http:// or https://")
        return text.rstrip("/")
    if key == "progress":
        mode = str(value).strip().lower()
        if mode not in PROGRESS_MODES:
            raise ConfigError(
                f"invalid progress mode {value!r}: use one of {', '.join(PROGRESS_MODES)}"
            )
        return mode
    if key == "timeout":
        return parse_duration(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("invalid token: it must be a non-empty string")
    return value.strip()


def _section(
    data: Mapping[str, Any], profile: str | None, *, create: bool = False
) -> dict[str, Any]:
    """The table holding a profile's keys (the top level for the default profile)."""
    if profile is None:
        return data  # type: ignore[return-value]
    profiles = data.get("profiles")
    if not isinstance(profiles, dict):
        if not create:
            raise _unknown_profile(profile, {})
        profiles = data["profiles"] = {}  # type: ignore[index]
    table = profiles.get(profile)
    if not isinstance(table, dict):
        if not create:
            raise _unknown_profile(profile, profiles)
        table = profiles[profile] = {}
    return table


def _unknown_profile(profile: str, profiles: Mapping[str, Any]) -> ConfigError:
    known = ", ".join(sorted(profiles)) or "none defined"
    return ConfigError(
        f"unknown profile {profile!r} (profiles: {known}); "
        f"create it with: jobctl config set url URL --profile {profile}"
    )


def resolve_settings(
    *,
    url: str | None = None,
    token: str | None = None,
    profile: str | None = None,
    progress: str | None = None,
    timeout: float | None = None,
) -> Settings:
    """Resolve the settings: explicit argument > environment > profile > file default > default.

    Args:
        url: an explicit API base URL (e.g. ``--url``).
        token: an explicit token (e.g. ``--token``).
        profile: a profile name (e.g. ``--profile``); else ``JOBCTL_PROFILE``.
        progress: an explicit progress mode.
        timeout: an explicit default wait timeout in seconds.

    Raises:
        ConfigError: unknown profile, invalid value, or an unreadable config file.
    """
    env = os.environ
    profile = profile or env.get("JOBCTL_PROFILE") or None
    path = config_path()
    data = load_config(path)
    layers: list[Mapping[str, Any]] = []
    if profile is not None:
        layers.append(_section(data, profile))
    layers.append({k: v for k, v in data.items() if k in KEYS})

    def pick(key: str, explicit: Any, env_name: str) -> Any:
        if explicit is not None:
            return _normalise(key, explicit)
        if env.get(env_name):
            return _normalise(key, env[env_name])
        for layer in layers:
            if key in layer:
                try:
                    return _normalise(key, layer[key])
                except ConfigError as exc:
                    raise ConfigError(f"{path}: {exc}") from None
        return None

    return Settings(
        url=pick("url", url, "JOBCTL_URL") or DEFAULT_URL,
        token=pick("token", token, "JOBCTL_TOKEN"),
        profile=profile,
        progress=pick("progress", progress, "JOBCTL_PROGRESS") or "auto",
        timeout=pick("timeout", timeout, "JOBCTL_TIMEOUT"),
    )


def get_value(key: str, profile: str | None = None) -> Any:
    """The value stored for ``key`` in a profile (or the default), or None.

    Args:
        key: one of ``KEYS``.
        profile: the profile name, or None for the top-level defaults.

    Raises:
        ConfigError: unknown key or profile.
    """
    _check_key(key)
    return _section(load_config(), profile).get(key)


def set_value(key: str, value: str, profile: str | None = None) -> Path:
    """Validate and store one value (creating the file and the profile as needed).

    Args:
        key: one of ``KEYS``.
        value: the value as typed; timeouts accept durations like ``15m``.
        profile: the profile name, or None for the top-level defaults.

    Returns:
        The config file's path.
    """
    _check_key(key)
    normal = _normalise(key, value)
    path = config_path()
    data = load_config(path)
    _section(data, profile, create=True)[key] = normal
    return save_config(data, path)


def unset_value(key: str, profile: str | None = None) -> bool:
    """Remove one value; returns whether it was there.

    Args:
        key: one of ``KEYS``.
        profile: the profile name, or None for the top-level defaults.

    Raises:
        ConfigError: unknown key or profile.
    """
    _check_key(key)
    path = config_path()
    data = load_config(path)
    section = _section(data, profile)
    if key not in section:
        return False
    del section[key]
    save_config(data, path)
    return True


def list_values(profile: str | None = None) -> dict[str, dict[str, str]]:
    """Every stored value per profile (``""`` is the default), tokens shown as ``***``.

    Args:
        profile: only this profile (raises ConfigError when unknown), or None for all.
    """
    data = load_config()
    names: list[str | None] = [profile] if profile is not None else [None]
    if profile is None and isinstance(data.get("profiles"), dict):
        names.extend(sorted(data["profiles"]))
    out: dict[str, dict[str, str]] = {}
    for name in names:
        section = _section(data, name)
        shown = {
            key: ("***" if key == "token" else str(section[key])) for key in KEYS if key in section
        }
        out[name or ""] = shown
    return out
