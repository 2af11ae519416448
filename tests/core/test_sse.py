"""The SSE decoder, rule by rule (WHATWG HTML, "Server-sent events")."""

from __future__ import annotations

import pytest

from jobctl._core.sse import MAX_RETRY_MS, ServerSentEvent, SSEDecodeError, SSEDecoder


def decode(*chunks: bytes, decoder: SSEDecoder | None = None) -> list[ServerSentEvent]:
    dec = decoder or SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    events.extend(dec.close())
    return events


def msg(data: str, event: str = "message", id: str | None = None, retry: int | None = None):
    return ServerSentEvent(event=event, data=data, id=id, retry=retry)


# --- the spec's own examples -------------------------------------------------------------


def test_spec_example_stock_ticker_joins_data_lines() -> None:
    assert decode(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [msg("YHOO\n+2\n10")]


def test_spec_example_ids_comment_and_unterminated_last_block() -> None:
    stream = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n"
    )
    assert decode(stream) == [msg("first event", id="1"), msg("second event", id=None)]


def test_spec_example_empty_data_lines() -> None:
    assert decode(b"data\n\ndata\ndata\n\ndata:") == [msg(""), msg("\n")]


def test_spec_example_space_after_colon_is_optional() -> None:
    assert decode(b"data:test\n\ndata: test\n\n") == [msg("test"), msg("test")]


# --- fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: x\n\n", [msg("x")]),
        (b"data:x\n\n", [msg("x")]),
        (b"data:  x\n\n", [msg(" x")]),  # only one space is stripped
        (b"data:\tx\n\n", [msg("\tx")]),  # only a space, not a tab
        (b"data: a:b: c\n\n", [msg("a:b: c")]),  # split at the first colon only
        (b"data\n\n", [msg("")]),  # no colon: field name, empty value
        (b"data:\n\n", [msg("")]),
        (b"data: \n\n", [msg("")]),
        (b"data : x\n\n", []),  # field name "data " is unknown
        (b"Data: x\n\n", []),  # field names are case-sensitive
        (b"foo: bar\ndata: x\nbaz\n\n", [msg("x")]),  # unknown fields ignored
        (b"event: status\ndata: {}\n\n", [msg("{}", event="status")]),
        (b"event:\ndata: x\n\n", [msg("x")]),  # empty event type means message
        (b"event: a\nevent: b\ndata: x\n\n", [msg("x", event="b")]),
        (b"event: a\n\ndata: x\n\n", [msg("x")]),  # event type resets per block
        (b"data: a\n\n\n\ndata: b\n\n", [msg("a"), msg("b")]),  # extra blank lines
    ],
)
def test_field_parsing(stream: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode(stream) == expected


@pytest.mark.parametrize(
    "stream",
    [b": keepalive\n", b":\n", b": data: x\n", b":data: x\n", b": id: 9\n"],
)
def test_comment_lines_are_ignored(stream: bytes) -> None:
    dec = SSEDecoder()
    assert decode(b"data: a\n" + stream + b"data: b\n\n", decoder=dec) == [msg("a\nb")]
    assert dec.last_event_id == ""


def test_comment_alone_dispatches_nothing() -> None:
    assert decode(b": keepalive\n\n: keepalive\n\n") == []


# --- ids -----------------------------------------------------------------------------------


def test_id_persists_across_events() -> None:
    stream = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"
    assert decode(stream) == [msg("a", id="1"), msg("b", id="1"), msg("c", id="2")]


def test_empty_id_resets_last_event_id() -> None:
    dec = SSEDecoder()
    events = decode(b"id: 1\ndata: a\n\nid:\ndata: b\n\n", decoder=dec)
    assert events == [msg("a", id="1"), msg("b", id=None)]
    assert dec.last_event_id == ""


def test_id_with_nul_is_ignored() -> None:
    dec = SSEDecoder()
    events = decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", decoder=dec)
    assert events == [msg("a", id="1"), msg("b", id="1")]
    assert dec.last_event_id == "1"


def test_id_of_data_less_block_still_becomes_last_event_id() -> None:
    dec = SSEDecoder()
    events = decode(b"id: 7\n\ndata: x\n\n", decoder=dec)
    assert events == [msg("x", id="7")]
    assert dec.last_event_id == "7"


def test_id_keeps_spaces_beyond_the_first() -> None:
    assert decode(b"id:  5 \ndata: x\n\n") == [msg("x", id=" 5 ")]


def test_last_event_id_is_set_at_dispatch_not_at_the_field() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"id: 3\ndata: x\n") == []
    assert dec.last_event_id == ""
    assert dec.feed(b"\n") == [msg("x", id="3")]
    assert dec.last_event_id == "3"


# --- retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"5000", 5000),
        (b"0", 0),
        (b"007", 7),
        (b"+5", None),
        (b"-5", None),
        (b" 5", 5),  # the one leading space is the separator
        (b"  5", None),
        (b"5 ", None),
        (b"5.0", None),
        (b"1e3", None),
        (b"", None),
        (b"\xd9\xa3", None),  # ARABIC-INDIC DIGIT THREE: a digit, but not ASCII
        (b"12345678901234567890", MAX_RETRY_MS),
        (b"9" * 5000, MAX_RETRY_MS),
    ],
)
def test_retry_only_when_all_ascii_digits(value: bytes, expected: int | None) -> None:
    dec = SSEDecoder()
    events = decode(b"retry:" + value + b"\ndata: x\n\n", decoder=dec)
    assert events == [msg("x", retry=expected)]
    assert dec.retry == expected


def test_retry_persists_on_decoder_but_belongs_to_one_event() -> None:
    dec = SSEDecoder()
    events = decode(b"retry: 100\ndata: a\n\ndata: b\n\nretry: x\ndata: c\n\n", decoder=dec)
    assert events == [msg("a", retry=100), msg("b"), msg("c")]
    assert dec.retry == 100


def test_retry_in_data_less_block_is_kept_by_decoder() -> None:
    dec = SSEDecoder()
    assert decode(b"retry: 2500\n\n", decoder=dec) == []
    assert dec.retry == 2500


# --- blocks and end of stream --------------------------------------------------------------


def test_block_without_data_is_not_dispatched() -> None:
    assert decode(b"event: status\nid: 4\nretry: 10\n\n") == []


def test_unterminated_last_event_is_discarded_and_its_id_not_applied() -> None:
    dec = SSEDecoder()
    events = decode(b"id: 1\ndata: a\n\nid: 2\ndata: b\n", decoder=dec)
    assert events == [msg("a", id="1")]
    assert dec.last_event_id == "1"


def test_final_line_without_terminator_is_discarded() -> None:
    assert decode(b"data: a\n\ndata: b") == [msg("a")]
    assert decode(b"data: a\n\n\xef\xbb") == [msg("a")]


def test_close_returns_nothing_and_allows_next_stream_keeping_id_and_retry() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"retry: 900\nid: 5\ndata: a\n\ndata: partial") == [msg("a", id="5", retry=900)]
    assert dec.close() == []
    # A new connection: partial line gone, BOM stripped again, id and retry kept.
    assert dec.feed(b"\xef\xbb\xbfdata: b\n\n") == [msg("b", id="5")]
    assert (dec.last_event_id, dec.retry) == ("5", 900)


# --- line endings --------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_each_line_ending(eol: bytes) -> None:
    stream = eol.join([b"id: 1", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert decode(stream) == [msg("a\nb", id="1"), msg("c", id="1")]


def test_mixed_line_endings() -> None:
    assert decode(b"data: a\rdata: b\r\ndata: c\n\r\n") == [msg("a\nb\nc")]


def test_crlf_split_across_chunks_is_one_line_ending() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\n") == []  # the LF completes the CRLF; it is not a blank line
    assert dec.feed(b"data: b\r") == []
    assert dec.feed(b"\n\r") == [msg("a\nb")]
    assert dec.feed(b"\n") == []  # the CRLF of that blank line
    assert dec.close() == []


def test_cr_then_cr_is_a_blank_line_dispatched_without_waiting() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\r") == [msg("a")]


def test_cr_at_chunk_end_then_empty_chunk_then_lf() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"") == []
    assert dec.feed(b"\ndata: b\n\n") == [msg("a\nb")]


# --- BOM -----------------------------------------------------------------------------------


def test_leading_bom_is_stripped() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == [msg("a")]


@pytest.mark.parametrize("split", [1, 2, 3])
def test_leading_bom_split_across_chunks(split: int) -> None:
    stream = b"\xef\xbb\xbfdata: a\n\n"
    assert decode(stream[:split], stream[split:]) == [msg("a")]
    assert decode(*[stream[i : i + 1] for i in range(len(stream))]) == [msg("a")]


def test_only_one_bom_is_stripped() -> None:
    # The second BOM makes the field name "\ufeffdata", an unknown field.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n") == [msg("b")]


def test_bom_after_stream_start_is_data() -> None:
    assert decode(b"data: a\n\n", b"\xef\xbb\xbfdata: b\n\n") == [msg("a")]
    assert decode(b"data: \xef\xbb\xbfx\n\n") == [msg("\ufeffx")]


def test_bom_prefix_that_is_not_a_bom_is_kept() -> None:
    assert decode(b"\xef\xbb", b"\n\ndata: a\n\n") == [msg("a")]
    assert decode(b"\xef", b"data: a\n\n") == []  # "\ufffddata" is an unknown field


# --- UTF-8 ---------------------------------------------------------------------------------


def test_utf8_split_at_every_byte() -> None:
    stream = "data: é€😀\n\n".encode()
    for i in range(1, len(stream)):
        assert decode(stream[:i], stream[i:]) == [msg("é€😀")], i
    assert decode(*[stream[i : i + 1] for i in range(len(stream))]) == [msg("é€😀")]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\xff", "\ufffd"),
        (b"a\x80b", "a\ufffdb"),
        (b"\xe2\x82", "\ufffd"),  # truncated sequence at end of line
        (b"\xe2\x82x", "\ufffdx"),
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # an encoded surrogate
    ],
)
def test_invalid_utf8_becomes_replacement_character(raw: bytes, text: str) -> None:
    assert decode(b"data: " + raw + b"\n\n") == [msg(text)]


def test_nul_in_data_and_event_is_kept() -> None:
    assert decode(b"event: a\x00b\ndata: c\x00d\n\n") == [msg("c\x00d", event="a\x00b")]


# --- bounded line buffer -------------------------------------------------------------------


def test_line_of_exactly_the_limit_is_accepted() -> None:
    line = b"data: " + b"x" * 10
    assert decode(line + b"\n\n", decoder=SSEDecoder(max_line_bytes=len(line))) == [msg("x" * 10)]


def test_complete_line_over_the_limit_raises() -> None:
    with pytest.raises(SSEDecodeError, match="longer than 16 bytes"):
        SSEDecoder(max_line_bytes=16).feed(b"data: " + b"x" * 11 + b"\n")


def test_endless_line_raises_before_buffering_past_the_limit() -> None:
    dec = SSEDecoder(max_line_bytes=1000)
    dec.feed(b"data: ")
    for _ in range(99):
        dec.feed(b"x" * 10)
    with pytest.raises(SSEDecodeError):
        dec.feed(b"x" * 10)


def test_failed_feed_applies_nothing_and_decoder_stays_rejected_until_close() -> None:
    dec = SSEDecoder(max_line_bytes=20)
    with pytest.raises(SSEDecodeError):
        dec.feed(b"id: 1\ndata: a\n\ndata: " + b"y" * 30 + b"\n")
    assert dec.last_event_id == ""
    with pytest.raises(SSEDecodeError, match="close"):
        dec.feed(b"data: b\n\n")
    dec.close()
    assert dec.feed(b"data: b\n\n") == [msg("b")]


def test_invalid_limit_rejected() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        SSEDecoder(max_line_bytes=0)


def test_accepts_any_bytes_like_chunk() -> None:
    dec = SSEDecoder()
    assert dec.feed(bytearray(b"data: a\n")) == []
    assert dec.feed(memoryview(b"\n")) == [msg("a")]  # type: ignore[arg-type]


def test_protocol_stream_as_the_reference_server_sends_it() -> None:
    stream = (
        b"retry: 3000\n"
        b'id: 1\nevent: status\ndata: {"status": "pending"}\n\n'
        b": keepalive\n\n"
        b'id: 2\nevent: progress\ndata: {"current": 1, "total": 2}\n\n'
        b'id: 3\nevent: complete\ndata: {"status": "completed"}\n\n'
    )
    assert decode(stream) == [
        msg('{"status": "pending"}', event="status", id="1", retry=3000),
        msg('{"current": 1, "total": 2}', event="progress", id="2"),
        msg('{"status": "completed"}', event="complete", id="3"),
    ]
