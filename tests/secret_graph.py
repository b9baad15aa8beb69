"""Walk everything reachable from a raised error and prove a secret is nowhere in it.

The walk follows ``__cause__``, ``__context__``, ``__notes__``, ``args`` and the attributes
(``__dict__`` and ``__slots__``) of every object it meets, and the items of containers and
mappings, recursively, with a visited set. Tracebacks are not followed: their frames hold
every local of the code that ran, the caller's own key included; an error reporter prints
the chain of exceptions and their reprs, which is what this checks.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["assert_secret_unreachable"]

_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None))
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
        if isinstance(obj, _ATOMS) or depth >= max_depth:
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
