"""The shape of the package, read from its source: no import circle, no upward import
between layers, no aiohttp below the client's core, no module past 400 lines, no function
body past 60.

Every import counts: module level, function-local and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import pathlib

import sevalla_async

ROOT = pathlib.Path(sevalla_async.__file__).parent

# Lower layers first; a module may import only modules of its own layer or below.
LAYERS = [
    {
        "_version",
        "_logging",
        "_logsafe",
        "_inflate",
        "_ids",
        "_build",
        "_outcomes",
        "_record",
        "_models",
        "_errors",
        "_promote_outcome",
        "_result_errors",
        "_convert",
        "_wire",
        "_secret",
        "_engine",
    },
    {"_protocol", "_replies", "_rate_headers", "_logs", "_retry", "_response", "_evidence"},
    {"_ratelimit", "_hooks"},
    {"_core"},
    {
        "_fanout",
        "_fanout_outcomes",
        "_repeats",
        "_wait",
        "_wait_settings",
        "_pacer",
        "_reconcile",
        "_resolve",
        "_releases",
        "_pins",
        "_rollbacks",
        "_failure_logs",
        "_release_checks",
        "_release_reports",
        "_options",
    },
    {"_resources"},
    {"_transport", "_proxy"},  # the aiohttp edge: only the client picks a transport
    {"_client"},
    {"__init__", "__main__", "_cli", "testing"},
]

# aiohttp and the packages it brings: none of them below _core, nor in _protocol.
HTTP_LIBRARIES = {"aiohttp", "multidict", "yarl"}
PURE = set().union(*LAYERS[: LAYERS.index({"_core"})]) | {"_protocol"}

MAX_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def _imports(path: pathlib.Path) -> tuple[set[str], set[str]]:
    """The sevalla_async modules (dotted, relative to the package; ``__init__`` for the
    package itself) and the outside top-level packages that ``path`` imports."""
    package = list(path.relative_to(ROOT).parts[:-1])
    inside: set[str] = set()
    outside: set[str] = set()

    def add(parts: list[str], names: list[str]) -> None:
        base = ".".join(parts)
        for name in names:
            dotted = f"{base}.{name}" if base else name
            if _is_module(dotted):
                inside.add(dotted)
            else:
                inside.add(base or "__init__")

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package[: len(package) - node.level + 1]
                parts += node.module.split(".") if node.module else []
            elif (node.module or "").split(".")[0] == "sevalla_async":
                parts = (node.module or "").split(".")[1:]
            else:
                outside.add((node.module or "").split(".")[0])
                continue
            add(parts, [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top, *rest = alias.name.split(".")
                if top == "sevalla_async":
                    inside.add(".".join(rest) or "__init__")
                else:
                    outside.add(top)
    return inside, outside


def _graph() -> dict[str, tuple[set[str], set[str]]]:
    return {_module_name(path): _imports(path) for path in sorted(ROOT.rglob("*.py"))}


def _layer(name: str) -> int:
    top = name.split(".")[0]
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"module {name} is in no layer of the test")


def test_no_module_imports_a_higher_layer() -> None:
    for module, (inside, _) in _graph().items():
        for imported in inside:
            assert _layer(imported) <= _layer(module), f"{module} -> {imported}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_modules_form_no_circle() -> None:
    graph = {module: inside - {module} for module, (inside, _) in _graph().items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_pure_layers_import_no_http_library() -> None:
    graph = _graph()
    for module in sorted(m for m in graph if m.split(".")[0] in PURE):
        seen, todo = {module}, [module]
        while todo:
            current = todo.pop()
            inside, outside = graph[current]
            assert not outside & HTTP_LIBRARIES, (
                f"{module} imports {sorted(outside & HTTP_LIBRARIES)} through {current}"
            )
            todo += sorted(inside - seen)
            seen |= inside


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in ROOT.rglob("*.py")
    }
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert over == {}


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The lines of a function's statements, from the first after its docstring to the
    end (the signature and the docstring do not count)."""
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return 0 if not body else (body[-1].end_lineno or 0) - body[0].lineno + 1


def test_body_lines_counts_the_statements_only() -> None:
    (function,) = ast.parse(
        'def f():\n    """Doc\n    string."""\n    a = 1\n\n    return a\n'
    ).body
    assert isinstance(function, ast.FunctionDef)
    assert body_lines(function) == 3


def test_no_function_body_is_over_60_lines() -> None:
    over = {}
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = body_lines(node)
                if lines > MAX_FUNCTION_LINES:
                    over[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert over == {}
