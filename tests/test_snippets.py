"""Every ```python block of README.md and docs/**/*.md runs as written, against FakeSevalla.

A block runs in a namespace where the names the guides use are bound to a seeded fake:
``client`` (a :class:`SevallaClient` on the fake, its waits on a :class:`FakeClock`),
``fake``, ``clock``, ``pipeline_id``, ``source_app_id``/``staging``, ``target_app_ids``,
``eu``/``us``, ``app_id``, ``deployment_id``, ``promotions`` and ``plan`` (three entries);
``SEVALLA_API_KEY``/``SEVALLA_BASE_URL`` point at the fake, so ``SevallaClient()`` works.
Blocks with top-level ``await`` run inside the event loop; whole scripts (``asyncio.run``)
run in a thread with their own loop. The docs' three example ids (:data:`EXAMPLE_IDS`) stand
for the seeded pipeline, source and target.

An HTML comment on the line before a block changes how it runs:

- ``<!-- snippet: skip REASON -->``: not run (REASON says why; kept to a few);
- ``<!-- snippet: pytest -->``: a test file, run by pytest in a temporary directory
  (``<!-- snippet: pytest test_app.py -->``: under that name);
- ``<!-- snippet: file NAME.py -->``: a module the page's test files import (a recipe's
  ``app.py``), written next to them as printed; not run on its own;
- ``<!-- snippet: continues -->``: the block goes on from the previous block of its page
  (which runs first, in the same namespace).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sevalla_async import SevallaClient
from sevalla_async.testing import FakeClock, FakeSevalla

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_IDS = {
    "fb5e5168-4281-4bec-94c5-0d1584e9e657": "pipeline_id",
    "0d5d4a8c-7b63-4c55-9f0b-6a0f3f2b1c11": "source_app_id",
    "6c1b2f0e-3f7a-4c1d-8e55-2b9c0a7d4e21": "eu",
}
_BLOCK = re.compile(
    r"(?:<!-- snippet: (?P<directive>.*?) -->\n)?```python\n(?P<code>.*?)^```", re.S | re.M
)


@attrs.frozen
class Snippet:
    path: str
    line: int
    code: str
    directive: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def snippets() -> Iterator[Snippet]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for path in files:
        text = path.read_text(encoding="utf-8")
        previous = ""
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            directive = match["directive"] or ""
            code = match["code"]
            if directive == "continues":
                code, directive = previous + code, ""
            previous = code
            yield Snippet(str(path.relative_to(ROOT)), line, code, directive)


ALL = list(snippets())


def test_the_docs_have_snippets_and_few_are_skipped() -> None:
    assert len(ALL) >= 20
    skipped = [s for s in ALL if s.directive.startswith("skip")]
    assert all(len(s.directive) > len("skip ") + 10 for s in skipped), "say why"
    assert len(skipped) <= 4


async def _namespace(fake: FakeSevalla, client: SevallaClient, clock: FakeClock) -> dict[str, Any]:
    pipeline = fake.add_pipeline(apps_per_stage=2)
    request = pipeline.promote_request()
    source, (eu, us) = request.source_app_id, request.target_app_ids
    app_id = fake.add_app()
    deployment = fake.add_deployment(app_id, script=["waiting", "inProgress", "success"])
    plan = [
        {
            "pipeline_id": str(r.pipeline_id),
            "source_app_id": str(r.source_app_id),
            "target_app_ids": [str(t) for t in r.target_app_ids],
        }
        for r in fake.promote_requests(3)
    ]
    # Snippets that make their own SevallaClient() wait with real sleeps: their deployments
    # are done at the first poll, so no test waits for real (``client`` has a FakeClock).
    fake.script_deployments(["success"])
    return {
        "__name__": "__snippet__",
        "fake": fake,
        "client": client,
        "clock": clock,
        "pipeline": pipeline,
        "pipeline_id": str(pipeline.id),
        "source_app_id": str(source),
        "staging": str(source),
        "target_app_ids": [str(eu), str(us)],
        "eu": str(eu),
        "us": str(us),
        "app_id": str(app_id),
        "deployment_id": str(deployment.id),
        "promotions": [],
        "plan": plan,
    }


def _substitute(code: str, namespace: dict[str, Any]) -> str:
    for example, name in EXAMPLE_IDS.items():
        code = code.replace(example, namespace[name])
    return code


@pytest.mark.parametrize("snippet", [s for s in ALL if not s.directive], ids=lambda s: s.name)
def test_snippet_runs(snippet: Snippet, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_run(snippet, snippet.code, monkeypatch))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A snippet may configure logging; the next test starts from what was there."""
    loggers = [logging.getLogger(), logging.getLogger("sevalla_async")]
    saved = [(list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


async def _run(snippet: Snippet, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    async with FakeSevalla(clock=clock) as fake:
        monkeypatch.setenv("SEVALLA_API_KEY", fake.api_key)
        monkeypatch.setenv("SEVALLA_BASE_URL", fake.base_url)
        async with SevallaClient(
            fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
        ) as client:
            namespace = await _namespace(fake, client, clock)
            if "promotions" in code:  # fragments that wait need promotions to wait for
                namespace["promotions"] = await client.pipelines.promote(
                    namespace["pipeline_id"],
                    source_app_id=namespace["source_app_id"],
                    target_app_ids=namespace["target_app_ids"],
                )
            source = _substitute(code, namespace)
            compiled = compile(source, snippet.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            if compiled.co_flags & inspect.CO_COROUTINE:
                await eval(compiled, namespace)  # noqa: S307 - our own docs, on the fake
            else:  # a whole script: its own event loop, in a thread
                await asyncio.to_thread(exec, compiled, namespace)


def _words(snippet: Snippet) -> list[str]:
    return snippet.directive.split()


TEST_FILES = [s for s in ALL if _words(s)[:1] == ["pytest"]]
MODULES = [s for s in ALL if _words(s)[:1] == ["file"]]


def test_every_module_of_a_page_is_imported_by_its_test_files() -> None:
    for module in MODULES:
        (name,) = _words(module)[1:]
        tests = [t for t in TEST_FILES if t.path == module.path]
        assert any(f"from {name.removesuffix('.py')} import" in t.code for t in tests), module.name


@pytest.mark.parametrize("snippet", TEST_FILES, ids=lambda s: s.name)
def test_snippet_test_files_pass(
    snippet: Snippet, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (name,) = _words(snippet)[1:] or ["test_snippet.py"]
    files = {name: snippet.code}
    files |= {_words(m)[1]: m.code for m in MODULES if m.path == snippet.path}
    for filename, code in files.items():
        pytester.path.joinpath(filename).write_text(code, encoding="utf-8")
    # A fresh project: pytest-asyncio's defaults (strict mode, so the test files must mark
    # their async tests), only stricter about warnings (but for pytest-asyncio's own
    # reminder to configure its fixture loop scope, which a fresh project gets). Run by
    # pytester in this process: a session of its own, its own configuration and plugins.
    pytester.makeini(
        "[pytest]\nfilterwarnings =\n    error\n"
        '    ignore:The configuration option "asyncio_default_fixture_loop_scope" is unset'
        ":pytest.PytestDeprecationWarning\n"
    )
    for name in [k for k in os.environ if k.startswith("SEVALLA_")]:
        monkeypatch.delenv(name)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0
    assert not outcomes.get("failed")
    assert not outcomes.get("errors")
