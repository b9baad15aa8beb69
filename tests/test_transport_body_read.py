"""How AiohttpTransport reads a reply body over a real socket: identity bodies with a
Content-Length are read whole (no decoder), and the max_response_size cap still holds for
every framing and encoding. The server is a raw asyncio socket server sending fixed bytes."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest

from sevalla_async import (
    AiohttpTransport,
    APIConnectionError,
    APIResponseValidationError,
    TransportRequest,
)

CAP = 1024


async def _serve_once(reply: bytes) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/v3/x"


async def _send(reply: bytes) -> bytes:
    transport = AiohttpTransport()
    try:
        async for url in _serve_once(reply):
            response = await transport.send(TransportRequest("GET", url, {}, None, 5.0, CAP))
            return response.body
    finally:
        await transport.aclose()
    raise AssertionError("unreachable")


def _reply(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


async def test_identity_body_with_content_length_within_the_cap_is_read() -> None:
    body = b'{"ok": true}'
    assert await _send(_reply(body, f"Content-Length: {len(body)}")) == body


async def test_identity_body_at_the_cap_is_read() -> None:
    body = b"x" * CAP
    assert await _send(_reply(body, f"Content-Length: {CAP}")) == body


@pytest.mark.parametrize(
    "reply",
    [
        _reply(b"x" * (CAP + 1), f"Content-Length: {CAP + 1}"),
        _reply(b"x" * (CAP * 4), "Connection: close"),  # no length: read to the end
        _reply(
            b"%x\r\n%s\r\n0\r\n\r\n" % (CAP * 2, b"x" * (CAP * 2)), "Transfer-Encoding: chunked"
        ),
        _reply(
            gzip.compress(b"x" * (CAP * 100)),
            "Content-Encoding: gzip",
            f"Content-Length: {len(gzip.compress(b'x' * (CAP * 100)))}",
        ),
    ],
    ids=["content-length", "to-close", "chunked", "gzip"],
)
async def test_body_over_the_cap_is_refused(reply: bytes) -> None:
    with pytest.raises(APIResponseValidationError, match="max_response_size"):
        await _send(reply)


async def test_gzip_body_within_the_cap_is_decoded() -> None:
    packed = gzip.compress(b"y" * 100)
    got = await _send(_reply(packed, "Content-Encoding: gzip", f"Content-Length: {len(packed)}"))
    assert got == b"y" * 100


async def test_body_shorter_than_its_content_length_is_a_connection_error() -> None:
    with pytest.raises(APIConnectionError):
        await _send(_reply(b"abc", "Content-Length: 10"))
