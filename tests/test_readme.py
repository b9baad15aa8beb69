"""The README is the short path and docs/ holds the rest, without saying anything twice:
text written in two places drifts (the polling defaults did). The snippet tests run the
code of both."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
MIN_LINES = 3


def paragraphs(text: str) -> list[tuple[int, str]]:
    """``(lines, words)`` of each paragraph: lines between blank lines, a fenced block
    counted as one paragraph; whitespace normalised, so reflowing does not hide a copy."""
    found: list[list[str]] = []
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and not line.strip() and not line.startswith("```"):
            if current:
                found.append(current)
            current = []
        else:
            current.append(line)
    if current:
        found.append(current)
    return [(len(p), " ".join(" ".join(p).split())) for p in found]


def _flat(text: str) -> str:
    return " ".join(text.split())


def copies(one: str, other: str) -> list[str]:
    """The paragraphs of ``one`` of 3 lines or more that ``other`` contains word for word."""
    return [words for lines, words in paragraphs(one) if lines >= MIN_LINES and words in other]


def test_no_paragraph_is_both_in_the_readme_and_in_the_docs() -> None:
    readme = README.read_text(encoding="utf-8")
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        both = copies(readme, _flat(text)) + copies(text, _flat(readme))
        assert not both, f"{page.relative_to(ROOT)} repeats the README: {both[0][:200]!r}"


def test_the_readme_is_the_short_path() -> None:
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 250
    uses = ["Promote", "Promote and wait", "Fan out", "Release in waves", "Testing", "Command line"]
    for use in uses:
        assert re.search(rf"^## {use}", readme, re.M), use


def test_the_readmes_links_into_the_docs_resolve() -> None:
    readme = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(((?:docs/)[^)#]+)", readme)
    assert links
    for link in links:
        assert (ROOT / link).is_file(), link


def test_paragraphs_counts_a_fenced_block_as_one() -> None:
    text = "a\nb\n\n```python\nx = 1\n\ny = 2\n```\n\nc\n"
    assert paragraphs(text) == [(2, "a b"), (5, "```python x = 1 y = 2 ```"), (1, "c")]
