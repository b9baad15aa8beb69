"""Walk a ``{data, total, offset, limit}`` list endpoint lazily, one page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

Fetch = Callable[[int, int], Awaitable[tuple[Sequence[T], int]]]
"""``fetch(limit, offset)`` -> ``(items, total)``."""


async def iterate_pages(fetch: Fetch[T], *, page_size: int) -> AsyncIterator[T]:
    """Yield every item, fetching the next page only when the caller asks for more.

    Stops when the offset reaches the ``total`` of the latest page (``total`` may change
    between pages) or when a page comes back empty.
    """
    offset = 0
    while True:
        items, total = await fetch(page_size, offset)
        for item in items:
            yield item
        offset += len(items)
        if not items or offset >= total:
            return
