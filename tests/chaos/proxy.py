"""A loopback TCP proxy that counts and optionally throttles the bytes a server sends back.

Used to prove that a resumed download transfers only the missing bytes, and to
slow a download down enough to kill its process half-way. It forwards raw
bytes, so HTTP (and the ``Host`` header the server builds URLs from) passes
through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from types import TracebackType


class CountingProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``, counting server-to-client bytes.

    Args:
        target_port: the server's loopback port.
        rate: bytes per second sent to the client (None: unthrottled).
        tls: a server-side SSL context: the proxy then terminates HTTPS in front of
            a plain-HTTP server.
    """

    def __init__(
        self, target_port: int, rate: float | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.target_port = target_port
        self.rate = rate
        self.tls = tls
        self.downstream = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> CountingProxy:
        """Listen on a free port and start forwarding."""
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = fut.result(timeout=10)
        return self

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        upstream = (
            self._requests(reader, up_w) if self.tls else self._pipe(reader, up_w, count=False)
        )
        await asyncio.gather(upstream, self._pipe(up_r, writer, count=True))

    async def _requests(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Forward requests, telling the server they came over HTTPS (X-Forwarded-Proto)."""
        try:
            while True:
                head = await src.readuntil(b"\r\n\r\n")
                line, _, rest = head.partition(b"\r\n")
                dst.write(line + b"\r\nX-Forwarded-Proto: https\r\n" + rest)
                length = 0
                for h in rest.split(b"\r\n"):
                    name, _, value = h.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    dst.write(await src.readexactly(length))
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

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
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

    def stop(self) -> None:
        """Close the listener, cancel the open connections and stop the loop."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
