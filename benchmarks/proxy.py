"""A loopback TCP proxy that counts the bytes going each way (for the resume measurement).

It forwards every connection to the reference server unchanged; clients see the
proxy's address as the API's (the server builds absolute URLs from the request's
``Host``), so every byte the server sends to them passes through the counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

__all__ = ["CountingProxy"]


class CountingProxy:
    """Forward ``127.0.0.1:<free port>`` to ``host:port`` in a background thread.

    Args:
        host: the upstream host.
        port: the upstream port.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.downstream = 0
        self.upstream = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def reset(self) -> None:
        """Start counting from zero."""
        self.downstream = 0
        self.upstream = 0

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, down: bool
    ) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                if down:
                    self.downstream += len(chunk)
                else:
                    self.upstream += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, down=False), self._pipe(up_reader, writer, down=True)
        )

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> CountingProxy:
        """Start listening; returns self."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop listening and end the thread."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
