"""The wire types without aiohttp: a reply's headers are read without regard to case and
keep every value of a repeated name (a redacted copy of a reply included)."""

from __future__ import annotations

from sevalla_async._secret import Secret
from sevalla_async._wire import Headers, TransportResponse

KEY = "sk-test-0123456789abcdef"


def test_headers_are_case_insensitive_and_keep_repeated_names() -> None:
    headers = Headers([("X-Request-Id", "r1"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert headers["x-request-id"] == headers["X-REQUEST-ID"] == "r1"
    assert "SET-COOKIE" in headers
    assert "nope" not in headers
    assert 3 not in headers
    assert headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert list(headers.items())[1:] == [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    assert list(headers.values()) == ["r1", "a=1", "b=2"]
    assert len(headers) == 3
    assert TransportResponse(200, headers, b"").request_id == "r1"
    assert Headers({"A": "1"})["a"] == "1"


def test_a_redacted_reply_keeps_its_headers_readable() -> None:
    reply = TransportResponse(
        500,
        Headers([("X-Request-Id", "r1"), ("X-Echo", f"Bearer {KEY}"), ("x-echo", "plain")]),
        b"{}",
    )
    redacted = Secret(KEY).redact_reply(reply)
    assert redacted.request_id == "r1"
    assert redacted.headers.get("X-ECHO") == "Bearer [redacted]"
    assert [v for k, v in redacted.headers.items() if k.lower() == "x-echo"] == [
        "Bearer [redacted]",
        "plain",
    ]
