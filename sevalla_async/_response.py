"""``APIResponse``: a call's result together with the HTTP reply it came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from ._wire import TransportResponse

__all__ = ["APIResponse"]

T = TypeVar("T")


class APIResponse(Generic[T]):
    """The 2xx reply of one call, as ``with_raw_response`` returns it::

        raw = await client.pipelines.with_raw_response.promote(
            pipeline_id, source_app_id=source, target_app_ids=[a, b]
        )
        print(raw.status_code, raw.request_id)   # quote the request id to support
        promotions = raw.parse()                  # list[Promotion], as promote() returns

    The reply has already been checked and decoded when you get it (a reply that does
    not match the API's schema raises :class:`APIResponseValidationError` at the call, as
    without ``with_raw_response``), so :meth:`parse` cannot fail. Retries happen as
    usual; this is the reply of the attempt that succeeded.

    Attributes:
        status_code: the HTTP status (2xx).
        headers: the reply headers (a case-insensitive, read-only mapping).
        request_id: the API's ``x-request-id``, or ``None``.
        http_response_body: the body exactly as received (bytes).
    """

    __slots__ = ("_parsed", "_reply")

    def __init__(self, parsed: T, reply: TransportResponse) -> None:
        self._parsed = parsed
        self._reply = reply

    @property
    def status_code(self) -> int:
        """The HTTP status of the reply."""
        return self._reply.status

    @property
    def headers(self) -> Mapping[str, str]:
        """The reply headers."""
        return self._reply.headers

    @property
    def request_id(self) -> str | None:
        """The reply's ``x-request-id`` header (``None`` when absent)."""
        return self._reply.request_id

    @property
    def http_response_body(self) -> bytes:
        """The reply body, as received."""
        return self._reply.body

    def parse(self) -> T:
        """The call's usual result (what the method without ``with_raw_response``
        returns)."""
        return self._parsed

    def __repr__(self) -> str:
        return f"<APIResponse status_code={self.status_code} request_id={self.request_id!r}>"
