"""Every public name has a docstring users can read with ``help()``."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import pytest

import sevalla_async
import sevalla_async.testing
from sevalla_async import SevallaClient
from sevalla_async.testing import pytest_plugin


def _public(module: ModuleType) -> list[tuple[str, Any]]:
    return [(n, getattr(module, n)) for n in module.__all__ if n != "__version__"]


def _own_doc(obj: Any) -> str:
    if inspect.isclass(obj):
        return str(obj.__dict__.get("__doc__") or "")
    return inspect.getdoc(obj) or ""


def _members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties defined on the class itself."""
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        target = value.fget if isinstance(value, property) else value
        target = getattr(target, "__func__", target)
        if inspect.isfunction(target):
            found.append((f"{cls.__name__}.{name}", target))
    return found


_CLIENT = SevallaClient("docstring-check-key")
NAMES = [
    *_public(sevalla_async),
    *_public(sevalla_async.testing),
    ("Pipelines", type(_CLIENT.pipelines)),
    ("Deployments", type(_CLIENT.deployments)),
]
MEMBERS = [m for _, obj in NAMES if inspect.isclass(obj) for m in _members(obj)]
FIXTURES = [(n, getattr(pytest_plugin, n)) for n in pytest_plugin.__all__]


@pytest.mark.parametrize(("name", "obj"), NAMES, ids=[n for n, _ in NAMES])
def test_public_name_has_a_docstring(name: str, obj: Any) -> None:
    doc = _own_doc(obj)
    assert len(doc.split()) >= 4, f"{name} needs a docstring that says what it is"


@pytest.mark.parametrize(("name", "obj"), MEMBERS, ids=[n for n, _ in MEMBERS])
def test_public_method_has_a_docstring(name: str, obj: Any) -> None:
    assert (inspect.getdoc(obj) or "").strip(), f"{name} needs a docstring"


@pytest.mark.parametrize(("name", "obj"), FIXTURES, ids=[n for n, _ in FIXTURES])
def test_plugin_fixture_has_a_docstring(name: str, obj: Any) -> None:
    assert (inspect.getdoc(obj) or inspect.getdoc(getattr(obj, "__wrapped__", None)) or "").strip()


def test_package_docstrings() -> None:
    for module in (sevalla_async, sevalla_async.testing, pytest_plugin):
        assert len((module.__doc__ or "").split()) > 20, module.__name__
