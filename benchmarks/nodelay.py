"""Diagnostic only (``--server-nodelay-fix``): the reference server with Nagle switched off.

``mock_server.__main__.bind`` creates its listening socket as
``socket.socket(family, SOCK_STREAM)``, so ``sock.proto`` is 0; asyncio only sets
``TCP_NODELAY`` on accepted sockets whose ``proto`` is ``IPPROTO_TCP``
(``asyncio.base_events._set_nodelay``), so every response on a kept-alive
connection, written as two segments (headers, then body), waits for the client's
delayed ACK (~40 ms on Linux). This wrapper binds with ``IPPROTO_TCP`` and runs
the unchanged server, so a run can show what the one-line fix gains.
"""

from __future__ import annotations

import socket
import sys

import mock_server.__main__ as server_main

__all__ = ["bind", "main"]


def bind(host: str, port: int) -> socket.socket:
    """``mock_server.__main__.bind`` with ``proto=IPPROTO_TCP``.

    Args:
        host: interface.
        port: port (0: any free one).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def main() -> int:
    """Run the reference server with the patched ``bind``."""
    server_main.bind = bind
    return server_main.main()


if __name__ == "__main__":
    sys.exit(main())
