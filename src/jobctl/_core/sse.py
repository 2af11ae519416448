"""Server-sent events: a WHATWG-compliant decoder and the reconnect bookkeeping.

Pure code in the h11 style: bytes in, events out, no I/O, no clock, no randomness.
The SDK's follow flow (``flows/follow.py``, driven by both clients) feeds the
decoder whatever chunks the network hands it and asks ``SSEReconnectState`` what
to send on a reconnect (how long to wait is the retry table's ``stream_drop`` row).

Why our own decoder instead of wrapping httpx-sse 0.4.3: httpx-sse gets three
rules of the WHATWG "event stream interpretation" wrong — a leading UTF-8 BOM
makes it drop the first event, a block with no ``data`` line is dispatched
anyway, and ``retry: +5`` is accepted because it parses with ``int()`` (which
also takes signs, spaces and underscores). All three live in its field parser,
so fixing them means re-implementing that parser; what would be left of
httpx-sse is line splitting, which we need to control anyway (a CR at the end of
a chunk, UTF-8 decoded per line, a bounded buffer). The decoder below follows
https://html.spec.whatwg.org/multipage/server-sent-events.html rule by rule:

- One leading BOM (EF BB BF) is stripped, at stream start only, even when its
  bytes arrive in separate chunks.
- Lines end at CRLF, LF or CR. A CR at the end of a chunk followed by LF at the
  start of the next is one line ending: the line is dispatched at the CR (no
  waiting) and the LF is skipped when it arrives.
- Bytes are decoded per complete line, so a UTF-8 sequence split across chunks
  decodes correctly; invalid UTF-8 becomes U+FFFD, as the spec's decoder does.
- ``:comment`` lines are ignored; a line without a colon is a field with an
  empty value; one space after the colon is stripped; unknown fields are ignored.
- ``data`` lines are joined with "\\n"; ``event`` defaults to "message"; the id
  persists across events, ``id:`` with an empty value resets it, an id containing
  NUL is ignored; ``retry`` counts only when it is all ASCII digits.
- A block without any ``data`` line is not dispatched (its ``id`` still becomes
  the last event id, as the spec's dispatch step does); an unterminated block at
  end of stream is discarded.

Decisions where the spec is silent: ``retry:`` with an empty value is ignored
(there is no integer to interpret); a retry over ``MAX_RETRY_MS`` is clamped to
it; a line longer than ``max_line_bytes`` raises ``SSEDecodeError`` so a line
that never ends cannot exhaust memory; ``ServerSentEvent.id`` is None when the
last event id is the empty string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_RETRY_MS",
    "SSEDecodeError",
    "SSEDecoder",
    "SSEReconnectState",
    "ServerSentEvent",
]

_BOM = b"\xef\xbb\xbf"
_EOL = re.compile(rb"\r\n?|\n")
MAX_RETRY_MS = 2**31 - 1
"""The largest reconnection time kept (about 24.8 days, JavaScript's timer limit)."""


class SSEDecodeError(ValueError):
    """The event stream cannot be decoded (a line over the size limit).

    Args:
        message: what went wrong, in one sentence.
    """


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event.

    Args:
        event: the event type (``message`` when the block had no ``event`` field).
        data: the ``data`` lines joined with "\\n".
        id: the last event id in force when the event was dispatched (WHATWG
            semantics: it persists across events), or None when it is empty.
        retry: the reconnection time in milliseconds if this block set one.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """An incremental decoder of the ``text/event-stream`` format.

    Feed it byte chunks of any size; it returns the events completed by each.
    After ``close()`` the same decoder may be fed the next connection's stream:
    the last event id and the reconnection time persist, as in ``EventSource``.

    Args:
        max_line_bytes: the longest line accepted (terminator excluded); a
            longer one raises ``SSEDecodeError``.
    """

    def __init__(self, max_line_bytes: int = 1 << 20) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self._max_line = max_line_bytes
        self._last_event_id = ""
        self._retry: int | None = None
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._at_start = True
        self._head = b""
        self._partial = bytearray()
        self._skip_lf = False
        self._broken = False
        self._data: list[str] = []
        self._event = ""
        self._id_buffer = self._last_event_id
        self._block_retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The last event id set by a dispatch step ("" when none)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The last valid reconnection time in milliseconds, or None if none was sent."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one chunk of the stream.

        The call is atomic: when it raises, nothing from the chunk was applied.

        Args:
            chunk: the next bytes of the stream, of any length.

        Returns:
            The events dispatched by blank lines in this chunk, in order.

        Raises:
            SSEDecodeError: a line exceeds ``max_line_bytes`` (or an earlier
                chunk did and ``close()`` was not called since).
        """
        if self._broken:
            raise SSEDecodeError("the event stream was already rejected; call close()")
        data = bytes(chunk)
        at_start, head = self._at_start, self._head
        if at_start:
            head += data
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._head = head
                return []
            data = head[len(_BOM) :] if head.startswith(_BOM) else head
            at_start, head = False, b""

        lines, rest, skip_lf = self._split(data)
        self._at_start, self._head = at_start, head
        self._skip_lf = skip_lf
        if lines:
            lines[0] = bytes(self._partial) + lines[0]
            self._partial = bytearray(rest)
        else:
            self._partial += rest
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _split(self, data: bytes) -> tuple[list[bytes], bytes, bool]:
        """Split ``data`` into complete lines and a remainder; check sizes first."""
        pos, end = 0, len(data)
        skip_lf = self._skip_lf
        if skip_lf and end:
            skip_lf = False
            if data[0] == 0x0A:
                pos = 1
        lines: list[bytes] = []
        carried = len(self._partial)
        for match in _EOL.finditer(data, pos):
            line = data[pos : match.start()]
            self._check_length(carried + len(line))
            carried = 0
            lines.append(line)
            pos = match.end()
            skip_lf = match.group() == b"\r" and pos == end
        rest = data[pos:]
        self._check_length(carried + len(rest))
        return lines, rest, skip_lf

    def _check_length(self, size: int) -> None:
        if size > self._max_line:
            self._broken = True
            raise SSEDecodeError(
                f"event stream line longer than {self._max_line} bytes; refusing to buffer it"
            )

    def _process_line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        if raw[0] == 0x3A:  # ":" starts a comment
            return None
        name, colon, value = raw.decode("utf-8", "replace").partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id_buffer = value
        elif name == "retry" and value and value.isascii() and value.isdigit():
            digits = value.lstrip("0") or "0"
            retry = MAX_RETRY_MS if len(digits) > 10 else min(int(digits), MAX_RETRY_MS)
            self._retry = self._block_retry = retry
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self._last_event_id = self._id_buffer
        data, event, retry = self._data, self._event, self._block_retry
        self._data, self._event, self._block_retry = [], "", None
        if not data:
            return None
        return ServerSentEvent(
            event=event or "message",
            data="\n".join(data),
            id=self._last_event_id or None,
            retry=retry,
        )

    def close(self) -> list[ServerSentEvent]:
        """End the stream: an unterminated last block is discarded.

        The decoder is then ready for the next connection's stream; the last
        event id and the reconnection time are kept.

        Returns:
            Always an empty list (the spec never dispatches at end of stream).
        """
        self._reset_stream()
        return []


class SSEReconnectState:
    """What to send when an event stream reconnects, and how it has gone so far.

    Tracks the newest event id (sent back as ``Last-Event-ID``), the server's
    ``retry:`` time, duplicate events after a resume, and consecutive drops.
    How long to wait before reconnecting, and when to give up, is the
    ``stream_drop`` row of the retry table (``jobctl._core.retry``), fed with
    ``failures`` and ``retry_seconds``.

    Ids that are all ASCII digits are compared as integers (docs/protocol.md: ids
    increase per job), so an id not above the highest seen is a duplicate.
    Other ids are duplicates when they were seen before in this session. An
    event without an id is always accepted and leaves ``last_event_id`` alone:
    resuming from the newest id known is what the protocol's resume expects.

    The consecutive-drop count restarts with the first new event accepted after
    a (re)connect; a connection that opens and drops without delivering one
    counts as a failure, so a proxy that buffers the stream or a server that
    drops it at once runs out of retries and the follower falls back to polling.

    Args:
        last_event_id: an id to resume from (``Last-Event-ID`` of the first request).
    """

    def __init__(self, *, last_event_id: str | None = None) -> None:
        self.last_event_id: str | None = last_event_id or None
        self.retry_ms: int | None = None
        self.connections = 0
        self.failures = 0
        self._highest: int | None = _as_int(last_event_id)
        self._seen: set[str] = set()
        if self.last_event_id is not None and self._highest is None:
            self._seen.add(self.last_event_id)

    @property
    def retry_seconds(self) -> float | None:
        """The server's reconnection time in seconds, when it sent one."""
        return None if self.retry_ms is None else self.retry_ms / 1000.0

    def accept(self, ev: ServerSentEvent) -> bool:
        """Record an event; say whether it is new.

        Args:
            ev: an event from ``SSEDecoder``.

        Returns:
            False for a duplicate of an event already seen in this session.
        """
        if ev.retry is not None:
            self.update_retry(ev.retry)
        if ev.id is None:
            self.failures = 0
            return True
        number = _as_int(ev.id)
        if number is not None:
            if self._highest is not None and number <= self._highest:
                return False
            self._highest = number
        elif ev.id in self._seen:
            return False
        else:
            self._seen.add(ev.id)
        self.last_event_id = ev.id
        self.failures = 0
        return True

    def update_retry(self, retry_ms: int | None) -> None:
        """Take a reconnection time learnt outside an event (``SSEDecoder.retry``).

        Args:
            retry_ms: milliseconds, or None to keep the current value.
        """
        if retry_ms is not None and retry_ms >= 0:
            self.retry_ms = retry_ms

    def request_headers(self) -> dict[str, str]:
        """The headers for the next (re)connect request.

        ``Last-Event-ID`` is left out when no id is known, or when the id could
        not travel in an HTTP header (non-ASCII or control characters).

        Returns:
            ``Accept``, ``Cache-Control`` and, when known, ``Last-Event-ID``.
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        last = self.last_event_id
        if last and last.isascii() and last.isprintable():
            headers["Last-Event-ID"] = last
        return headers

    def on_connected(self) -> None:
        """Note that a connection opened.

        The consecutive-drop count is not reset here but by the first new event
        accepted on this connection.
        """
        self.connections += 1

    def on_drop(self) -> int:
        """Note that the stream ended before the job did.

        Returns:
            How many drops in a row brought no new event (1 for the first).
        """
        self.failures += 1
        return self.failures


def _as_int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) <= 30:
        return int(value)
    return None
