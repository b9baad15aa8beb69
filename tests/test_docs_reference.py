"""The API reference covers the public API, and the error tree the docs draw is the code's.

``python -m tests.test_docs_reference`` prints the tree of the exported exceptions, from
the code, ready to be annotated in docs/guides/errors.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import sevalla_async

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
_DIRECTIVE = re.compile(r"^::: (sevalla_async(?:\.\w+)*)$", re.M)
_TREE = re.compile(r"```(?:text)?\n(SevallaError\n.*?)^```", re.S | re.M)
_BRANCH = re.compile(r"^(?P<indent>(?:│   |    )*)(?:├── |└── )(?P<name>\w+)")


def documented() -> set[str]:
    """The names the reference pages render (``::: sevalla_async.X`` or ``...module.X``)."""
    return {
        path.rsplit(".", 1)[-1]
        for page in REFERENCE.glob("*.md")
        for path in _DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    }


def test_every_public_name_is_in_the_api_reference() -> None:
    public = {name for name in sevalla_async.__all__ if not name.startswith("__")}
    missing = sorted(public - documented())
    directives = ", ".join(f"::: sevalla_async.{n}" for n in missing)
    assert not missing, f"add to docs/reference/*.md: {directives}"


def test_the_reference_renders_public_objects_only_once() -> None:
    paths = [p for page in REFERENCE.glob("*.md") for p in _DIRECTIVE.findall(page.read_text())]
    assert len(paths) == len(set(paths))


# --- the error tree -----------------------------------------------------------------------


def exported_errors() -> dict[str, str | None]:
    """Exported exception -> its nearest exported base class (``None``: the root)."""
    classes = {
        name: obj
        for name in sevalla_async.__all__
        if isinstance(obj := getattr(sevalla_async, name), type) and issubclass(obj, BaseException)
    }
    parents: dict[str, str | None] = {}
    for name, cls in classes.items():
        bases = [b.__name__ for b in cls.__mro__[1:] if classes.get(b.__name__) is b]
        parents[name] = bases[0] if bases else None
    return parents


def render_tree() -> str:
    """The exported exceptions as the docs draw them (names only), siblings in the order
    the code defines them."""
    parents = exported_errors()
    children: dict[str | None, list[str]] = {}
    for name in sorted(parents, key=_defined_at):
        children.setdefault(parents[name], []).append(name)
    (root,) = children[None]
    lines = [root]

    def draw(name: str, indent: str) -> None:
        kids = children.get(name, [])
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(indent + ("└── " if last else "├── ") + kid)
            draw(kid, indent + ("    " if last else "│   "))

    draw(root, "")
    return "\n".join(lines)


def _defined_at(name: str) -> tuple[str, int]:
    import inspect

    cls = getattr(sevalla_async, name)
    return inspect.getsourcefile(cls) or "", inspect.getsourcelines(cls)[1]


def drawn_trees() -> dict[str, str]:
    """Every error tree in README.md and docs/**/*.md: a code block starting with
    ``SevallaError``."""
    trees = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for match in _TREE.finditer(path.read_text(encoding="utf-8")):
            trees[str(path.relative_to(ROOT))] = match.group(1)
    return trees


def parse_tree(text: str) -> dict[str, str | None]:
    """Each name drawn -> the name drawn as its parent."""
    lines = text.rstrip("\n").splitlines()
    parents: dict[str, str | None] = {lines[0].split()[0]: None}
    path = [lines[0].split()[0]]
    for line in lines[1:]:
        match = _BRANCH.match(line)
        assert match is not None, f"not a branch of the tree: {line!r}"
        depth = len(match["indent"]) // 4 + 1
        assert depth <= len(path), f"a branch without a parent: {line!r}"
        del path[depth:]
        parents[match["name"]] = path[-1]
        path.append(match["name"])
    return parents


def test_the_errors_guide_draws_the_tree() -> None:
    assert "docs/guides/errors.md" in drawn_trees()


def test_every_drawn_error_tree_is_the_codes() -> None:
    expected = exported_errors()
    for source, text in drawn_trees().items():
        assert parse_tree(text) == expected, (
            f"{source}: the error tree differs from the code's; it is:\n{render_tree()}"
        )


def test_parse_tree_reads_the_drawing() -> None:
    text = "SevallaError\n├── APIError   .message\n│   └── APIStatusError  400\n└── Other\n"
    assert parse_tree(text) == {
        "SevallaError": None,
        "APIError": "SevallaError",
        "APIStatusError": "APIError",
        "Other": "SevallaError",
    }


if __name__ == "__main__":
    print(render_tree())
