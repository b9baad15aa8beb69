"""Walk everything reachable from a raised error and prove a secret is nowhere in it.

The walk follows ``__cause__``, ``__context__``, ``__notes__``, ``args`` and the attributes
(``__dict__`` and ``__slots__``) of every object it meets, and the items of containers and
mappings, recursively, with a visited set. Tracebacks are not followed: their frames hold
every local of the code that ran, the caller's own key included; an error reporter prints
the chain of exceptions and their reprs, which is what this checks (tracebacks rendered
with their locals are checked by tests/test_secrets_tracebacks.py).

The key's two holders, :class:`~sevalla_async._secret.Secret` and the
:class:`~sevalla_async._secret.AuthorizedHeaders` a transport reads it from, are checked
by their ``repr`` and ``str`` but not opened: reading their items is asking for the key
(as the transport does when it sends), not something a report or a log does.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator, Mapping
from typing import Any

from sevalla_async._secret import AuthorizedHeaders, Secret

__all__ = ["assert_secret_unreachable"]

_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None))
_HOLDERS = (Secret, AuthorizedHeaders)
_SKIP = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.TracebackType,
    types.FrameType,
    types.CodeType,
    type,
)


def assert_secret_unreachable(root: object, secret: str, *, max_depth: int = 12) -> int:
    """Fail if ``secret`` is in the ``repr``/``str`` of any object reachable from ``root``;
    return how many objects were checked (so a caller can assert the walk saw something)."""
    seen: set[int] = set()
    stack: list[tuple[object, str, int]] = [(root, "root", 0)]
    while stack:
        obj, path, depth = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        for show in (repr, str):
            text = ""
            with contextlib.suppress(Exception):  # what cannot show itself shows nothing
                text = show(obj)
            assert secret not in text, f"the secret is reachable at {path} ({show.__name__})"
        if isinstance(obj, (bytes, bytearray)):
            assert secret.encode() not in obj, f"the secret is reachable at {path} (bytes)"
        if isinstance(obj, (*_ATOMS, *_HOLDERS)) or depth >= max_depth:
            continue
        stack.extend((child, f"{path}{step}", depth + 1) for step, child in _children(obj))
    return len(seen)


def _children(obj: Any) -> Iterator[tuple[str, object]]:
    if isinstance(obj, BaseException):
        yield ".__cause__", obj.__cause__
        yield ".__context__", obj.__context__
        yield ".__notes__", getattr(obj, "__notes__", None)
        yield ".args", obj.args
    if isinstance(obj, Mapping):
        for key, value in list(obj.items()):
            yield f"[{key!r}]", value
            yield f".key({key!r})", key
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, item in enumerate(obj):
            yield f"[{i}]", item
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        for name, value in list(attributes.items()):
            yield f".{name}", value
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if isinstance(name, str) and hasattr(obj, name):
                yield f".{name}", getattr(obj, name)
