"""The wire protocol, without I/O.

Turns models into :class:`Request` values and :class:`TransportResponse` values into
models or typed errors. Nothing here touches the network, sleeps or reads a clock (the
caller passes ``now``), so every rule is tested with plain values. The reply shapes that
are not public models live in :mod:`._replies`, the rate-limit headers in
:mod:`._rate_headers`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs

from ._convert import converter
from ._errors import (
    APIResponseValidationError,
    APIStatusError,
    RateLimitError,
    status_error_class,
)
from ._ids import is_api_uuid, to_uuid
from ._models import PromoteRequest, Promotion
from ._rate_headers import parse_retry_after
from ._wire import TransportResponse

__all__ = [
    "Request",
    "build_promote",
    "decode",
    "error_from_response",
]

_JSON_HEADERS = {"Content-Type": "application/json"}


@attrs.frozen(slots=True)
class Request:
    """One HTTP request to the API, relative to the base URL."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: bytes | None = None
    reply_size: int = 0
    """The size a normal reply to this request can reach (bytes); the client's response
    cap is raised to it, so a large request's normal reply is never refused."""
    accept: Callable[[Any], Any] | None = attrs.field(default=None, eq=False)
    """Checks the structured 2xx reply against the request and returns the result (raises
    ``ValueError`` saying why not: the reply is then an APIResponseValidationError)."""
    wire: Any = attrs.field(default=None, eq=False)
    """The type the reply is structured as before :attr:`accept` turns it into the result
    (``None``: the result type the caller asks for)."""
    promotes: bool = False
    """A promotion (``POST /pipelines/{id}/promote``): its errors carry ``promotion_state``
    besides the ``write_state`` of every write."""

    @property
    def idempotent(self) -> bool:
        """GETs may be repeated freely; anything else may have had an effect."""
        return self.method == "GET"

    @property
    def headers(self) -> Mapping[str, str] | None:
        """Per-request headers (the client adds auth, user agent and accept)."""
        return _JSON_HEADERS if self.body is not None else None


# --- building requests ---------------------------------------------------------------------


def build_promote(request: PromoteRequest) -> Request:
    """``POST /pipelines/{id}/promote`` with ``{source_app_id, target_app_ids}``; its reply
    must name each requested target exactly once (it is returned in target order)."""
    targets = [str(t) for t in request.target_app_ids]
    # Canonical UUID strings need no JSON escaping: format the body directly.
    ids = '","'.join(targets)
    body = f'{{"source_app_id":"{request.source_app_id}","target_app_ids":["{ids}"]}}'
    # A normal reply is ~110 bytes a target; 256 a target (plus room for whitespace and
    # fields added later) never refuses it, while a hostile reply stays bounded.
    size = 4096 + 256 * len(targets)
    wanted = dict(zip(targets, request.target_app_ids, strict=True))
    return Request(
        "POST",
        f"/pipelines/{request.pipeline_id}/promote",
        body=body.encode(),
        reply_size=size,
        accept=functools.partial(_covering, wanted),
        wire=list[PromotedText],
        promotes=True,
    )


@attrs.frozen(slots=True)
class PromotedText:
    """One item of the promote reply as sent: its two ids, still text. :func:`_covering`
    checks them against the request before any becomes a :class:`Promotion`."""

    target_app_id: str
    deployment_id: str


def _covering(wanted: dict[str, uuid.UUID], items: list[PromotedText]) -> list[Promotion]:
    """The promotions in target order; ``ValueError`` unless the reply names each requested
    target (``wanted``: canonical text -> the request's id, in target order) exactly once,
    with deployment ids the API can have made. A target is the request's own
    :class:`uuid.UUID` (the reply's text must be its canonical form, in any case); only
    the deployment ids are parsed. (Once a POST has been sent nothing may raise a plain
    ``ValueError`` -- that would say "nothing was sent" -- so the caller turns this one
    into an APIResponseValidationError.)"""
    found: dict[str, Promotion] = {}
    for index, item in enumerate(items):
        text = item.target_app_id.lower()
        target = wanted.get(text)
        if target is None:
            to_uuid(item.target_app_id, f"[{index}].target_app_id")  # not an id: say so
            raise ValueError(f"target {text} was not requested")
        if text in found:
            raise ValueError(f"[{index}].target_app_id: {text} appears twice")
        deployment = item.deployment_id
        if not is_api_uuid(deployment):
            to_uuid(deployment, f"[{index}].deployment_id")  # raises, naming the field
        found[text] = Promotion(target, uuid.UUID(deployment))
    if len(found) < len(wanted):
        missing = [t for t in wanted if t not in found]
        raise ValueError(
            f"{len(missing)} of {len(wanted)} requested targets missing from the reply "
            f"(first: {missing[0]})"
        )
    return [found[t] for t in wanted]


def get_pipeline_request(pipeline_id: uuid.UUID | str) -> Request:
    pid = to_uuid(pipeline_id, "pipeline_id")
    return Request("GET", f"/pipelines/{pid}")


def list_pipelines_request(*, limit: int, offset: int) -> Request:
    return Request("GET", "/pipelines", params=page_params(limit, offset))


def get_deployment_request(app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> Request:
    app = to_uuid(app_id, "app_id")
    dep = to_uuid(deployment_id, "deployment_id")
    return Request("GET", f"/applications/{app}/deployments/{dep}")


def list_deployments_request(app_id: uuid.UUID | str, *, limit: int, offset: int) -> Request:
    app = to_uuid(app_id, "app_id")
    return Request("GET", f"/applications/{app}/deployments", params=page_params(limit, offset))


def cancel_deployment_request(app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> Request:
    app = to_uuid(app_id, "app_id")
    dep = to_uuid(deployment_id, "deployment_id")
    return Request("POST", f"/applications/{app}/deployments/{dep}/cancel")


def rollback_deployment_request(app_id: uuid.UUID | str) -> Request:
    """``rollbackDeploymentV3``: a new deployment of the app's last successful build."""
    app = to_uuid(app_id, "app_id")
    return Request("POST", f"/applications/{app}/deployments/rollback")


def page_params(limit: int, offset: int) -> dict[str, str]:
    """Validate the spec's paging bounds (``limit`` 1-100, ``offset`` 0-10000)."""
    if type(limit) is not int or not 1 <= limit <= 100:
        raise ValueError(f"limit: must be an integer from 1 to 100, got {limit!r}")
    if type(offset) is not int or not 0 <= offset <= 10_000:
        raise ValueError(f"offset: must be an integer from 0 to 10000, got {offset!r}")
    return {"limit": str(limit), "offset": str(offset)}


# --- decoding replies ----------------------------------------------------------------------

# The compiled structure hook of each reply type, looked up once (``list[Promotion]``
# builds a new, equal alias object at every call site, so the key is compared by value).
_hooks: dict[Any, Callable[[Any, Any], Any]] = {}


# What a hostile body can make json.loads raise besides ValueError (UnicodeDecodeError
# and huge-integer errors are ValueErrors): nesting deeper than the interpreter's stack.
_JSON_ERRORS = (ValueError, RecursionError)


def decode(
    response: TransportResponse,
    into: Any,
    *,
    method: str | None = None,
    url: str | None = None,
    attempts: int = 1,
    accept: Callable[[Any], Any] | None = None,
    wire: Any = None,
) -> Any:
    """Return the 2xx reply body structured as ``into`` (or as ``wire``, then turned into
    the result by ``accept``: see :class:`Request`); a body that is not JSON or does not
    fit raises :class:`APIResponseValidationError`. (Non-2xx replies go to
    :func:`error_from_response`.)
    """
    try:
        data = json.loads(response.body)
    except _JSON_ERRORS as exc:
        raise _invalid(response, f"reply is not JSON: {exc}", method, url, attempts) from None
    kind = into if wire is None else wire
    hook = _hooks.get(kind)
    if hook is None:
        hook = _hooks[kind] = converter.get_structure_hook(kind)
    try:
        value = hook(data, kind)
    except (
        cattrs.BaseValidationError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:
        raise _invalid(response, _validation_message(exc), method, url, attempts, data) from exc
    if accept is None:
        return value
    try:
        return accept(value)
    except ValueError as exc:  # it does not answer the request: keep the raw body
        raise _invalid(
            response, f"the reply does not cover the request: {exc}", method, url, attempts
        ) from None


def _invalid(
    response: TransportResponse,
    why: str,
    method: str | None,
    url: str | None,
    attempts: int,
    data: Any = None,
) -> APIResponseValidationError:
    body = data if data is not None else response.body.decode("utf-8", "replace")
    fields = _reply_fields(response, body, method, url, attempts)
    return APIResponseValidationError(f"the reply does not match the API schema: {why}", **fields)


def _reply_fields(
    response: TransportResponse, body: Any, method: str | None, url: str | None, attempts: int
) -> dict[str, Any]:
    """The keyword arguments every error raised with a reply in hand takes."""
    return {
        "status_code": response.status,
        "request_id": response.request_id,
        "headers": response.headers,
        "body": body,
        "method": method,
        "url": url,
        "attempts": attempts,
    }


def _validation_message(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc)
        return "; ".join(notes) if notes else str(exc)
    return f"{type(exc).__name__}: {exc}"


def error_from_response(
    response: TransportResponse,
    *,
    method: str | None = None,
    url: str | None = None,
    attempts: int = 1,
) -> APIStatusError:
    """Map a non-2xx reply to its :class:`APIStatusError` subclass.

    Reads the spec's error body ``{message, status, data: {code, message}}``; when the body
    is not JSON (an HTML page from a proxy, say) the raw text is kept as ``body``.
    """
    status = response.status
    text = response.body.decode("utf-8", "replace")
    body: Any = text
    message = code = detail = None
    with contextlib.suppress(*_JSON_ERRORS):
        body = json.loads(text) if text else text
    if isinstance(body, dict):
        message = _str_or_none(body.get("message"))
        data = body.get("data")
        if isinstance(data, dict):
            code = _str_or_none(data.get("code"))
            detail = _str_or_none(data.get("message"))
    if not message:
        message = _REASONS.get(status) or (text.strip()[:200] if text.strip() else None)
        message = message or f"HTTP {status}"
    cls = status_error_class(status)
    kwargs = _reply_fields(response, body, method, url, attempts)
    kwargs["code"] = code
    kwargs["detail"] = detail
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(response.headers)
    return cls(message, **kwargs)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_REASONS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Unprocessable entity",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
