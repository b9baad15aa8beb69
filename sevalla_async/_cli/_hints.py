"""Hints after an API error, when its message does not say what to check (pure)."""

from __future__ import annotations

import urllib.parse

from .. import AuthenticationError, NotFoundError
from ._output import clean_text

__all__ = ["error_hint"]


def error_hint(error: BaseException) -> str | None:
    """What to check after ``error``, when the API's message does not say: a 401 (the key,
    and the base URL it is sent to), or a 404 from a base URL without the API version
    (every path of the API is under ``/v3``, so ``https://api.sevalla.com`` answers 404 to
    everything)."""
    url = getattr(error, "url", None)
    if isinstance(error, AuthenticationError):
        return (
            "hint: the API did not accept the API key: check the key given by --api-key or "
            "SEVALLA_API_KEY (the flag wins) is a Sevalla API key that is still valid, and "
            f"that the base URL in use, {_base_url(url)}, is the API it belongs to "
            "(--base-url or SEVALLA_BASE_URL)"
        )
    if not isinstance(error, NotFoundError) or not url:
        return None
    path = urllib.parse.urlsplit(url).path
    if "/v3/" in path + "/":
        return None
    return (
        f"hint: the URL {clean_text(url)} has no API version; the base URL must end in /v3 "
        "(e.g. https://api.sevalla.com/v3): check --base-url or SEVALLA_BASE_URL"
    )


def _base_url(url: str | None) -> str:
    """The base URL a request went to (its URL up to ``/v3``), or ``unknown``."""
    if not url:
        return "unknown"
    parts = urllib.parse.urlsplit(url)
    head, version, _ = parts.path.partition("/v3")
    path = head + version if version else ""
    return clean_text(urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")), 200)
