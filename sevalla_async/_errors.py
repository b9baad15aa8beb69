"""Every error the SDK raises.

::

    SevallaError                      base of everything below
    └── APIError                      a call to the API did not produce a result
        ├── APIStatusError            the API answered with a non-2xx status
        │   ├── BadRequestError            400
        │   ├── AuthenticationError        401
        │   ├── PermissionDeniedError      403
        │   ├── NotFoundError              404
        │   ├── ConflictError              409
        │   ├── UnprocessableEntityError   422
        │   ├── RateLimitError             429  (.retry_after)
        │   │   └── ClientRateLimitError   not sent: held by the client's own budget
        │   └── InternalServerError        >= 500
        ├── APIConnectionError        no reply: could not connect, or the connection was lost
        │   └── APITimeoutError       no reply in time (or the call's deadline passed)
        └── APIResponseValidationError  a 2xx reply whose body is not what the API promises

Input that can never be valid (a malformed UUID, an empty target list) is refused with a
plain :class:`ValueError` naming the field, before any network I/O.

``except RateLimitError`` catches both ways of meeting the rate limit: a 429 reply after
the client's retries, and :class:`ClientRateLimitError`, raised without sending when the
client's own view of the budget says the window resets later than the call may wait.

Every :class:`APIError` knows the ``method`` and ``url`` of the call and how many
``attempts`` were made. No error ever contains the API key. Every error's text comes from
one function, :func:`format_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._logsafe import printable
from ._models import Deployment
from ._outcomes import PromotionState
from ._record import TargetOutcome
from ._wire import Headers

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientRateLimitError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SevallaError",
    "UnprocessableEntityError",
]


def format_error(
    message: str,
    *,
    method: str | None,
    url: str | None,
    attempts: int,
    status_code: int | None = None,
    detail: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
) -> str:
    """The one text of every :class:`APIError`, its control characters escaped.

    ``GET <url>: message (after 3 attempts)`` without a status,
    ``GET <url> -> 404 message (detail) [code c] [request id r]`` with one.
    """
    text = message if status_code is None else f"{status_code} {message}"
    if detail:
        text += f" ({detail})"
    if code:
        text += f" [code {code}]"
    if request_id:
        text += f" [request id {request_id}]"
    text = printable(text)  # the server's text: it must not drive a terminal or forge lines
    if method and url:
        text = f"{method} {url}{': ' if status_code is None else ' -> '}{text}"
    if attempts > 1:
        text += f" (after {attempts} attempts)"
    return text


class SevallaError(Exception):
    """Base class of every exception raised by sevalla-async."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Copy and pickle by fields (``__init__`` takes keywords); headers as Headers.
        state = {k: Headers(v.items()) if k == "headers" else v for k, v in vars(self).items()}
        return (type(self).__new__, (type(self), *self.args), state)


class APIError(SevallaError):
    """A call to the Sevalla API did not produce a usable result.

    Attributes:
        message: a human-readable explanation.
        method: the HTTP method of the call (``"POST"``), or ``None``.
        url: the URL of the call (it never carries credentials), or ``None``.
        attempts: how many attempts were sent before giving up (``0`` when none was).
        promotion_state: for an error raised by a promote, what it leaves the promotion in
            (:class:`PromotionState`: ``rejected``, ``not_sent`` or ``unknown``); ``None``
            for other calls.
        write_state: for an error raised by any write (a promote, a rollback, a cancel),
            what it leaves that write in, with the same values: ``rejected`` (the API
            refused it), ``not_sent`` (certainly not acted on: safe to send again) or
            ``unknown`` (it may have happened: look before sending again); ``None`` for
            reads. For a promote it equals ``promotion_state``.
        sent_at: for an ``unknown`` promotion, when the request was sent (an aware UTC
            datetime from the client's wall clock); pass it to
            :meth:`Pipelines.reconcile`. ``None`` otherwise.
        targets: for an error raised by a promote that reconciled (``reconcile=True``,
            :meth:`Pipelines.resume`), every target's :class:`TargetOutcome` when they differ
            (a promotion found before a later step failed is kept there); ``None`` when
            every target shares ``promotion_state`` and ``sent_at``.

    Every field is set at construction, with a few exceptions, each set once, before the
    error is raised, by the one layer that knows it: ``promotion_state``, ``write_state``
    and ``sent_at`` by the client's request loop, on the error it is about to raise from a
    write, once it knows whether the API may have acted (the transport or the reply
    decoder that built the error cannot know); ``attempts`` by the same loop on an error
    raised by the transport; and ``targets`` by reconciliation, on the error of a failed
    re-send of the targets it found missing, before passing it on (so the targets found
    promoted are in it). Nothing else sets a field of an error after its construction.
    """

    message: str
    method: str | None
    url: str | None
    attempts: int
    promotion_state: PromotionState | None = None
    write_state: PromotionState | None = None
    sent_at: datetime | None = None
    targets: tuple[TargetOutcome, ...] | None = None

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.attempts = attempts

    def __str__(self) -> str:
        # The status fields exist on the subclasses that have a reply (status, validation).
        return format_error(
            self.message,
            method=self.method,
            url=self.url,
            attempts=self.attempts,
            status_code=getattr(self, "status_code", None),
            detail=getattr(self, "detail", None),
            code=getattr(self, "code", None),
            request_id=getattr(self, "request_id", None),
        )


class _ReplyError(APIError):
    """What the errors raised with a reply in hand share (:class:`APIStatusError`,
    :class:`APIResponseValidationError`): the reply's status, request id, headers and
    body."""

    status_code: int
    request_id: str | None
    headers: Mapping[str, str]
    body: Any

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.status_code = status_code
        self.request_id = request_id
        self.headers = headers if headers is not None else {}
        self.body = body


class APIStatusError(_ReplyError):
    """The API answered with a status code that is not 2xx.

    Attributes:
        status_code: the HTTP status, e.g. ``404``.
        message: the ``message`` of the error body, or the reason phrase.
        code: the error tracking code (``data.code`` of the body), or ``None``.
        detail: further explanation (``data.message`` of the body), or ``None``.
        request_id: the ``x-request-id`` reply header, or ``None``: quote it to support.
        headers: the reply headers (a read-only mapping, keys lower-cased).
        body: the decoded JSON body, or the raw text when the body is not JSON.
    """

    code: str | None
    detail: str | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        detail: str | None = None,
        **reply: Any,
    ) -> None:
        super().__init__(message, status_code=status_code, **reply)
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """400: the API refused the request's parameters or body."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed, revoked or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the API key is valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: the pipeline, application or deployment does not exist (for this key)."""


class ConflictError(APIStatusError):
    """409: the resource is not in a state that allows the operation."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but semantically wrong."""


class RateLimitError(APIStatusError):
    """429: too many requests.

    Attributes:
        retry_after: seconds the server asked us to wait (``Retry-After`` or
            ``x-ratelimit-reset``), or ``None`` when it did not say.
    """

    retry_after: float | None

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ClientRateLimitError(RateLimitError):
    """The request was **not sent**: the client's rate-limit budget is spent (an earlier
    reply said ``x-ratelimit-remaining: 0``, or a 429 said ``Retry-After``) and the window
    resets later than this call may wait (its ``timeout``, or ``max_rate_limit_wait`` when
    set).

    No reply was received for this call, so there is no request id, no headers and no body.
    ``status_code`` is 429, the status the API gives for the same condition, so code that
    handles rate limiting by status keeps working; ``retry_after`` is the seconds until the
    budget resets (retry then, or use a longer ``timeout``). For a promote,
    ``promotion_state`` is ``not_sent``: it is safe to send again.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(
            message,
            retry_after=retry_after,
            status_code=429,
            method=method,
            url=url,
            attempts=attempts,
        )

    def __str__(self) -> str:
        where = f"{self.method} {self.url}: " if self.method and self.url else ""
        return f"{where}{self.message}"


class InternalServerError(APIStatusError):
    """5xx: the API failed. For a POST the operation may or may not have happened."""


class APIConnectionError(APIError):
    """No reply was received: connection refused, DNS or TLS failure, connection lost.

    The underlying exception is chained as ``__cause__``. ``request_sent`` tells whether
    the request may have reached the server (``False`` only when it certainly did not).
    """

    request_sent: bool

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool = True,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """No reply came in time, or the call's overall ``timeout`` ran out.

    Attributes:
        last_result: for :meth:`Deployments.wait`, the last deployment seen before the
            deadline; otherwise ``None``.
    """

    last_result: Deployment | None

    def __init__(
        self, message: str, *, last_result: Deployment | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.last_result = last_result

    def with_last_result(self, last_result: Deployment) -> APITimeoutError:
        """This error again, carrying ``last_result`` (raise it ``from`` this one)."""
        return APITimeoutError(
            self.message,
            last_result=last_result,
            request_sent=self.request_sent,
            method=self.method,
            url=self.url,
            attempts=self.attempts,
        )


class ClientClosedError(APIConnectionError):
    """The client was closed before this request was sent (``request_sent`` is
    ``False``); never retried. Internal: catch :class:`APIConnectionError`."""


class APIResponseValidationError(_ReplyError):
    """A 2xx reply whose body does not match the API's schema (or is not JSON at all).

    Attributes:
        status_code, request_id, headers, body: as on :class:`APIStatusError`.
    """


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The most specific error class for an HTTP status."""
    if status >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status, APIStatusError)
