"""Which proxy a request to an origin goes through, and whether a host is this machine."""

from __future__ import annotations

import ipaddress
import urllib.request

import aiohttp
from yarl import URL

__all__ = ["ProxyInfo", "env_proxy", "is_loopback"]

ProxyInfo = tuple[URL | None, aiohttp.BasicAuth | None]


def env_proxy(url: URL) -> ProxyInfo:
    """The proxy that ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` (and ``~/.netrc``
    for the proxy's credentials) give for ``url``: the rules of aiohttp's ``trust_env``.
    Reads files: call it off the event loop."""
    try:
        from aiohttp.helpers import get_env_proxy_for_url
    except ImportError:  # pragma: no cover - an aiohttp without the helper
        if url.host is None or urllib.request.proxy_bypass(url.host):
            return None, None
        raw = urllib.request.getproxies().get(url.scheme)
        if not raw:
            return None, None
        proxy = URL(raw)
        return proxy.with_user(None), aiohttp.BasicAuth.from_url(proxy)
    try:
        return get_env_proxy_for_url(url)
    except LookupError:
        return None, None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (``localhost`` or a loopback address)."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
