"""The jobctl commands: one module per command or small group of commands."""

from __future__ import annotations

import typer

__all__ = ["register_all"]


def register_all(app: typer.Typer) -> None:
    """Add every command to the root app, in the order ``--help`` lists them.

    Args:
        app: the root app.
    """
    from . import (
        completion,
        config_cmd,
        demo,
        follow,
        listing,
        manage,
        result,
        server,
        submit,
        webhook,
    )

    submit.register(app)
    follow.register(app)
    manage.register(app)
    listing.register(app)
    result.register(app)
    demo.register(app)
    server.register(app)
    config_cmd.register(app)
    webhook.register(app)
    completion.register(app)
