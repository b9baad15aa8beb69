"""Walk a ``{data, total, offset, limit}`` list endpoint lazily, one page at a time.

The rules (pure: the page fetch is passed in, so they are tested without a server):

- nothing is fetched until the caller asks for the first item, and the next page only when
  the items of the previous one are used up;
- ``offset`` advances by the number of items received; iteration stops when it reaches the
  ``total`` of the latest page (``total`` may change between pages: a grown list is
  followed to its new end, a shrunk one stops early) or when a page comes back empty;
- an item whose key (the id) was already yielded is skipped: when items are added at the
  front between two fetches (deployments are listed most recent first), offset paging
  would otherwise yield the last items of a page twice. Items removed between two fetches
  may shift one page's worth out of view; offset paging cannot see them;
- the API refuses an ``offset`` over 10,000 (:data:`MAX_OFFSET`), so iteration stops,
  before sending, once the next page would start past it: at most 10,000 + ``page_size``
  items are reachable. A warning is logged when the ``total`` says more items exist.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["MAX_OFFSET", "Fetch", "Pager", "check_page_size", "iterate_pages"]

MAX_OFFSET = 10_000
"""The largest ``offset`` the API accepts (the spec's bound)."""

logger = logging.getLogger("sevalla_async")

T = TypeVar("T")

Fetch = Callable[[int, int], Awaitable[tuple[Sequence[T], int]]]
"""``fetch(limit, offset)`` -> ``(items, total)``."""


def check_page_size(page_size: int) -> int:
    """Validate a page size against the spec's ``limit`` bounds (1-100)."""
    if type(page_size) is not int or not 1 <= page_size <= 100:
        raise ValueError(f"page_size: must be an integer from 1 to 100, got {page_size!r}")
    return page_size


class Pager(AsyncIterator[T], Generic[T]):
    """An async iterator over every item of a paged list (see the module docstring).

    One consumer at a time: iterate it from one task.
    """

    def __init__(
        self, fetch: Fetch[T], *, page_size: int, key: Callable[[T], Hashable] | None = None
    ) -> None:
        self._fetch = fetch
        self._page_size = check_page_size(page_size)
        self._key = key
        self._seen: set[Hashable] = set()
        self._buffer: deque[T] = deque()
        self._offset = 0
        self._total = 0
        self._done = False

    def __aiter__(self) -> Pager[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopAsyncIteration
            await self._next_page()
        return self._buffer.popleft()

    async def _next_page(self) -> None:
        if self._offset > MAX_OFFSET:
            self._done = True
            logger.warning(
                "listing stopped after offset %d: the API serves no offset over %d, so "
                "%d more of the %d items listed are out of reach of offset paging",
                self._offset,
                MAX_OFFSET,
                self._total - self._offset,
                self._total,
            )
            return
        items, total = await self._fetch(self._page_size, self._offset)
        self._total = total
        self._offset += len(items)
        if not items or self._offset >= total:
            self._done = True
        for item in items:
            if self._key is not None:
                key = self._key(item)
                if key in self._seen:
                    continue
                self._seen.add(key)
            self._buffer.append(item)


iterate_pages = Pager
"""``iterate_pages(fetch, *, page_size, key=None)``: every item of a paged list, fetching
pages of ``page_size`` only as they are needed; ``key`` (e.g. the id) drops items already
yielded. ``page_size`` is checked at once."""
