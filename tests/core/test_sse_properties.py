"""Property tests of the SSE decoder against a literal transcription of the spec.

The oracle below decodes the whole stream at once, the way the WHATWG text is
written (UTF-8 decode with BOM removal, split into lines, process each line),
so any chunking the incremental decoder sees must give the same result.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl._core.sse import MAX_RETRY_MS, ServerSentEvent, SSEDecoder

# --- the oracle ----------------------------------------------------------------------------


def spec_decode(stream: bytes) -> tuple[list[ServerSentEvent], str, int | None]:
    """Events, last event id and retry, following the spec's algorithm literally."""
    if stream.startswith(b"\xef\xbb\xbf"):
        stream = stream[3:]
    text = stream.decode("utf-8", "replace")
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the part after the last EOL is discarded
    events: list[ServerSentEvent] = []
    data_buffer, event_type, id_buffer, last_id = "", "", "", ""
    retry: int | None = None
    block_retry: int | None = None
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data_buffer == "":
                event_type, block_retry = "", None
                continue
            if data_buffer.endswith("\n"):
                data_buffer = data_buffer[:-1]
            events.append(
                ServerSentEvent(event_type or "message", data_buffer, last_id or None, block_retry)
            )
            data_buffer, event_type, block_retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            value = value[1:] if value.startswith(" ") else value
        else:
            field, value = line, ""
        if field == "event":
            event_type = value
        elif field == "data":
            data_buffer += value + "\n"
        elif field == "id" and "\x00" not in value:
            id_buffer = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = block_retry = min(int(value), MAX_RETRY_MS)
    return events, last_id, retry


def run(
    chunks: list[bytes], max_line_bytes: int = 1 << 20
) -> tuple[list[ServerSentEvent], str, int | None]:
    dec = SSEDecoder(max_line_bytes=max_line_bytes)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    events.extend(dec.close())
    return events, dec.last_event_id, dec.retry


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


# --- strategies ----------------------------------------------------------------------------

TOKENS = [
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"event: status",
    b"id:",
    b"id: ",
    b"retry:",
    b"retry: ",
    b":",
    b": keepalive",
    b" ",
    b"x",
    b"7",
    b"12",
    b"+5",
    b"\x00",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b"\xe2\x82\xac",
    b"\xf0\x9f\x98\x80",
    b"\xc3",
    b"\xff",
    b"\xe2\x82",
    b"\x80",
    b"unknown",
]
streams = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join),
    st.binary(max_size=200),
)
cut_lists = st.lists(st.integers(min_value=0, max_value=10_000), max_size=20)


@settings(max_examples=400)
@given(streams)
def test_whole_stream_matches_the_spec_transcription(stream: bytes) -> None:
    assert run([stream]) == spec_decode(stream)


@settings(max_examples=400)
@given(streams, cut_lists)
def test_any_chunking_decodes_like_the_whole_stream(stream: bytes, cuts: list[int]) -> None:
    assert run(split(stream, cuts)) == run([stream])


@given(streams)
def test_byte_at_a_time_decodes_like_the_whole_stream(stream: bytes) -> None:
    assert run([stream[i : i + 1] for i in range(len(stream))]) == run([stream])


line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
    max_size=12,
)
field_lines = st.one_of(
    st.builds(lambda v: "data:" + v, line_text),
    st.builds(lambda v: "id: " + v, line_text),
    st.builds(lambda v: "event: " + v, line_text),
    st.builds(lambda v: "retry: " + v, st.from_regex(r"\A[0-9+ ]{0,4}\Z")),
    st.builds(lambda v: ":" + v, line_text),
    st.just(""),
    line_text,
)


@settings(max_examples=300)
@given(st.lists(field_lines, max_size=30), st.data())
def test_crlf_cr_lf_variants_are_equivalent(lines: list[str], data: st.DataObject) -> None:
    encoded = [line.encode() for line in lines]
    reference = run([b"".join(line + b"\n" for line in encoded)])
    for eol in (b"\r", b"\r\n"):
        assert run([b"".join(line + eol for line in encoded)]) == reference
    # Mixed, line by line. A bare LF after a bare CR would join them into one CRLF,
    # so an empty line right after a CR ending takes CR or CRLF.
    out, previous = [], b""
    for line in encoded:
        choices = [b"\r", b"\r\n"] if previous == b"\r" and line == b"" else [b"\n", b"\r", b"\r\n"]
        previous = data.draw(st.sampled_from(choices))
        out.append(line + previous)
    mixed = b"".join(out)
    assert run([mixed]) == reference
    cuts = data.draw(cut_lists)
    assert run(split(mixed, cuts)) == reference


@given(streams, cut_lists, st.integers(min_value=3, max_value=40))
def test_line_limit_either_raises_or_matches(stream: bytes, cuts: list[int], limit: int) -> None:
    body = stream[3:] if stream.startswith(b"\xef\xbb\xbf") else stream
    longest = max((len(line) for line in re.split(rb"\r\n|\r|\n", body)), default=0)
    try:
        result = run(split(stream, cuts), max_line_bytes=limit)
    except ValueError:
        assert longest > limit
    else:
        assert longest <= limit
        assert result == spec_decode(stream)
