"""Copying and pickling the SDK's errors (pure).

An exception's default ``__reduce__`` rebuilds it by calling its class with ``args``
alone, which fails for errors whose ``__init__`` takes required keywords (every reply
error, :class:`BuildChangedError`...): ``copy.copy``, ``pickle`` and a process pool
returning the error would raise ``TypeError`` in its place.
"""

from __future__ import annotations

import copyreg
from typing import Any

from ._wire import Headers

__all__ = ["reduce_error"]


def reduce_error(error: BaseException) -> tuple[Any, ...]:
    """``error`` rebuilt without ``__init__``: the class's ``__new__`` with its ``args``,
    then its fields; reply headers as :class:`Headers` (aiohttp's do not pickle)."""
    state = {
        name: Headers(value.items()) if name == "headers" else value
        for name, value in vars(error).items()
    }
    return (copyreg.__newobj__, (type(error), *error.args), state)
