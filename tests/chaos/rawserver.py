"""A tiny, deliberately hostile HTTP/1.1 server on loopback, for what respx cannot fake.

Each request is parsed by hand and answered by a test-supplied ``route``
function with an action: a plain ``Reply`` (any bytes, any headers, even
invalid ones), a ``Stream`` of chunks written until the client goes away or
the chunks run out, or ``Hang`` (read the request, then never answer). Every
request's method, path and headers are recorded, so a test can check, e.g.,
that a token was never sent to this server.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BufferedIOBase
from types import TracebackType


@dataclass(frozen=True)
class Seen:
    """One request the server received.

    Args:
        method: the HTTP method.
        path: the request target.
        headers: header names lower-cased.
        body: the request body.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """A complete answer.

    Args:
        status: the status code.
        body: the body bytes.
        headers: extra headers (Content-Length is added).
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """Headers, then ``chunks`` written one by one without Content-Length (close ends it).

    Args:
        chunks: the body pieces (may be endless; writing stops when the client leaves).
        headers: the response headers.
        status: the status code.
    """

    chunks: Iterable[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer (the connection stays open until the test ends)."""


@dataclass(frozen=True)
class Reset:
    """Read the request and drop the connection with a TCP reset, no answer at all."""


Action = Reply | Stream | Hang | Reset
Route = Callable[[Seen], Action]


class RawServer:
    """Serve ``route`` on ``127.0.0.1:<free port>`` in background threads.

    Args:
        route: decides the answer to each request.
    """

    def __init__(self, route: Route) -> None:
        self.route = route
        self.seen: list[Seen] = []
        self.stop_event = threading.Event()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._serve(self.connection, self.rfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _read(self, rfile: BufferedIOBase) -> Seen | None:
        read_line = rfile.readline
        line = read_line(65536)
        if not line:
            return None
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (h := read_line(65536)) not in (b"\r\n", b"\n", b""):
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = rfile.read(int(headers.get("content-length", "0") or 0))
        return Seen(method, path, headers, body)

    def _serve(self, conn: socket.socket, rfile: BufferedIOBase) -> None:
        try:
            while not self.stop_event.is_set():
                req = self._read(rfile)
                if req is None:
                    return
                self.seen.append(req)
                action = self.route(req)
                if isinstance(action, Hang):
                    self.stop_event.wait()
                    return
                if isinstance(action, Reset):
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if isinstance(action, Stream):
                    head = _head(action.status, action.headers | {"Connection": "close"})
                    conn.sendall(head)
                    for chunk in action.chunks:
                        if self.stop_event.is_set():
                            return
                        conn.sendall(chunk)
                    return
                headers = {"Content-Length": str(len(action.body)), **action.headers}
                conn.sendall(_head(action.status, headers) + action.body)
        except (OSError, ValueError):
            return

    def start(self) -> RawServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release hanging handlers."""
        self.stop_event.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
