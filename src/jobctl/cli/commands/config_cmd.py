"""``jobctl config``: edit the TOML config file (profiles, mode 0600). Tokens are never shown."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ... import config as cfg
from ..exitcodes import CliError, ExitCode
from ._common import state_of

__all__ = ["config_app"]

ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", metavar="NAME", help="The profile to edit (default: top level)."),
]
KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="url, token, progress or timeout.")]

config_app = typer.Typer(
    name="config",
    help="Read and edit the config file (keys: url, token, progress, timeout).",
    no_args_is_help=True,
    add_completion=False,
)


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[str, typer.Argument(metavar="VALUE", help="The value to store.")],
    profile: ProfileOpt = None,
) -> None:
    """Store a value (creates the file, with mode 0600, and the profile as needed)."""
    state = state_of(ctx)
    path = cfg.set_value(key, value, profile)
    where = f"profile {profile}" if profile else "the default profile"
    shown = "***" if key == "token" else cfg.get_value(key, profile)
    state.hint(f"set {key} = {shown} in {where} ({path})")


@config_app.command("get")
def config_get(ctx: typer.Context, key: KeyArg, profile: ProfileOpt = None) -> None:
    """Print a stored value (a token prints as *** ; exit 6 when unset)."""
    state = state_of(ctx)
    value = cfg.get_value(key, profile)
    if value is None:
        raise CliError(
            f"{key} is not set" + (f" in profile {profile}" if profile else ""), ExitCode.NOT_FOUND
        )
    state.io.write_out("***" if key == "token" else str(value))


@config_app.command("unset")
def config_unset(ctx: typer.Context, key: KeyArg, profile: ProfileOpt = None) -> None:
    """Remove a stored value."""
    state = state_of(ctx)
    removed = cfg.unset_value(key, profile)
    state.hint(f"removed {key}" if removed else f"{key} was not set")


@config_app.command("list")
def config_list(ctx: typer.Context, profile: ProfileOpt = None) -> None:
    """Show every stored value per profile (tokens as ***)."""
    state = state_of(ctx)
    values = cfg.list_values(profile)
    if state.options.json:
        state.io.write_out(json.dumps(values))
        return
    for name, table in values.items():
        if name:
            state.io.write_out(f"[profiles.{name}]")
        for key, value in table.items():
            state.io.write_out(f"{key} = {value}")


@config_app.command("path")
def config_path(ctx: typer.Context) -> None:
    """Print the config file's path."""
    state_of(ctx).io.write_out(str(cfg.config_path()))
