"""The testing recipes agree: one per framework, run as printed (tests/test_snippets.py runs
each page's ``app.py`` with its test file through pytester), and none tells to point the
application at a fake that the fixture does not start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_snippets import ALL, MODULES, TEST_FILES

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

FRAMEWORKS = {
    "docs/recipes/fastapi.md": "from fastapi.testclient import TestClient",
    "docs/recipes/aiohttp.md": "from aiohttp.test_utils import TestClient",
}


@pytest.mark.parametrize(("page", "test_client"), FRAMEWORKS.items())
def test_each_framework_has_one_recipe_an_app_and_its_tests(page: str, test_client: str) -> None:
    assert [m.path for m in MODULES].count(page) == 1, "one app.py on the page"
    tests = [t for t in TEST_FILES if t.path == page]
    assert len(tests) == 1, "one test file on the page"
    assert test_client in tests[0].code
    elsewhere = [s.name for s in ALL if test_client in s.code and s.path != page]
    assert not elsewhere, f"a second recipe for the framework: {elsewhere}"


def test_no_page_points_the_application_at_the_fixtures_base_url() -> None:
    """The ``sevalla_fake`` fixture is served in memory: it has no server to point at
    unless the test is marked ``sevalla_loopback``."""
    wrong = re.compile(r"SEVALLA_BASE_URL[^.]{0,120}sevalla_fake|sevalla_fake[^.]{0,60}base_url")
    for path in DOCS:
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert not wrong.search(text), path


def test_the_testing_guide_says_what_the_fixture_is() -> None:
    text = (ROOT / "docs" / "guides" / "testing.md").read_text(encoding="utf-8")
    (row,) = [line for line in text.splitlines() if line.startswith("| `sevalla_fake` |")]
    assert "in memory" in row
    assert "not started" in row
    assert "sevalla_loopback" in row
    flat = " ".join(text.split())
    assert "A sync `TestClient` never goes with `@pytest.mark.sevalla_loopback`" in flat
