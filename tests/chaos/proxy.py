"""A loopback TCP proxy that counts and optionally throttles the bytes a server sends back.

Used to prove that a resumed download transfers only the missing bytes, and to
slow a download down enough to kill its process half-way. It forwards raw
bytes, so HTTP (and the ``Host`` header the server builds URLs from) passes
through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType


class CountingProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``, counting server-to-client bytes.

    Args:
        target_port: the server's loopback port.
        rate: bytes per second sent to the client (None: unthrottled).
    """

    def __init__(self, target_port: int, rate: float | None = None) -> None:
        self.target_port = target_port
        self.rate = rate
        self.downstream = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CountingProxy:
        """Listen on a free port and start forwarding."""
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = fut.result(timeout=10)
        return self

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_w, count=False), self._pipe(up_r, writer, count=True)
        )

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while data := await src.read(16384):
                if count:
                    self.downstream += len(data)
                    if self.rate:
                        await asyncio.sleep(len(data) / self.rate)
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

    def stop(self) -> None:
        """Close the listener and stop the loop."""
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
