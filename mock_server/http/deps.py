"""FastAPI dependencies of the HTTP layer: the server state, the authenticated user, admins.

Routes declare what they need as annotated parameters (``engine: EngineDep``,
``user: UserDep``) and FastAPI resolves them once per request; the admin routes
carry ``dependencies=[Depends(require_admin)]``. The state is built in the app's
lifespan (``app.state.server``); the user was authenticated by ``AuthMiddleware``
before any route runs. Every dependency is ``async`` so it runs on the event
loop's thread, like the store calls it leads to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ..engine.runtime import Engine
from .dialects.knobs import KnobBook
from .faults import FaultSettings
from .middleware import RequestStats
from .problems import ProblemError
from .tickets import Tickets

__all__ = [
    "AdminDep",
    "EngineDep",
    "MaybeUserDep",
    "ServerDep",
    "ServerState",
    "User",
    "UserDep",
    "require_admin",
]


@dataclass
class ServerState:
    """What the routes share, kept on ``app.state.server``.

    Args:
        engine: the store, transitions, workers and webhooks.
        faults: the fault-injection settings (changed with ``PUT /api/_faults``).
        stats: request counts.
        operations: the dialects' operations and their knobs (``dialects/knobs.py``).
        tickets: makes and checks the browsers' event-stream tickets (``tickets.py``).
    """

    engine: Engine
    faults: FaultSettings
    stats: RequestStats
    operations: KnobBook = field(default_factory=KnobBook)
    tickets: Tickets = field(default_factory=Tickets)


@dataclass(frozen=True)
class User:
    """The caller, as ``AuthMiddleware`` authenticated them.

    Args:
        name: the user the bearer token maps to.
        admin: whether they see every job and may use the admin endpoints.
    """

    name: str
    admin: bool


async def get_server(request: Request) -> ServerState:
    """The app's state.

    Args:
        request: the request.
    """
    server: ServerState = request.app.state.server
    return server


ServerDep = Annotated[ServerState, Depends(get_server)]


async def get_engine(server: ServerDep) -> Engine:
    """The engine of the app's state.

    Args:
        server: the state.
    """
    return server.engine


async def maybe_user(request: Request) -> User | None:
    """The authenticated user; None for a signed result URL used without a token.

    Args:
        request: the request (``AuthMiddleware`` set its state).
    """
    name: str | None = request.state.user
    return None if name is None else User(name, bool(request.state.admin))


MaybeUserDep = Annotated[User | None, Depends(maybe_user)]


async def get_user(user: MaybeUserDep) -> User:
    """The authenticated user (only the result route admits signed URLs without one).

    Args:
        user: from ``maybe_user``.
    """
    if user is None:
        raise ProblemError(
            401,
            "a bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="jobctl"'},
        )
    return user


UserDep = Annotated[User, Depends(get_user)]


async def require_admin(user: UserDep) -> User:
    """The user, when an admin; else 403.

    Args:
        user: the authenticated user.
    """
    if not user.admin:
        raise ProblemError(403, "this endpoint is for admins")
    return user


EngineDep = Annotated[Engine, Depends(get_engine)]
AdminDep = Annotated[User, Depends(require_admin)]
