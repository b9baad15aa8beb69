"""SEVALLA_LOG: the library's log switch (shared with the CLI's -v), key redacted."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sevalla_async import SevallaClient
from sevalla_async._logging import install_handler, level_from_env, remove_handler
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


@pytest.fixture
def restore_logger() -> Iterator[None]:
    logger = logging.getLogger("sevalla_async")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("debug", logging.DEBUG),
        ("INFO", logging.INFO),
        (" Warning ", logging.WARNING),
        ("", None),
    ],
)
def test_level_from_env(value: str, level: int | None) -> None:
    assert level_from_env({"SEVALLA_LOG": value}) == level
    assert level_from_env({}) is None


def test_an_unknown_level_warns_and_stays_off() -> None:
    with pytest.warns(RuntimeWarning, match=r"SEVALLA_LOG='verbose' is not a log level"):
        assert level_from_env({"SEVALLA_LOG": "verbose"}) is None


def _run(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", **env}
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
        timeout=60,
        check=False,
    )


async def get_with_one_retry(key: str) -> None:
    """A GET that fails once with a 503 and is retried: a DEBUG line per attempt, a
    WARNING for the retry (also run in a subprocess, with ``SEVALLA_LOG`` set)."""
    clock = FakeClock()
    async with FakeSevalla(api_key=key, clock=clock) as fake:
        pipeline = fake.add_pipeline()
        fake.inject(Fault.error(503), times=1, method="GET")
        async with SevallaClient(
            fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
        ) as client:
            await client.pipelines.get(pipeline.id)


SCRIPT = (
    "import asyncio\n"
    "from tests.test_logging import get_with_one_retry\n"
    "asyncio.run(get_with_one_retry('sk-live-secret-key-1234'))\n"
)


@pytest.mark.parametrize(
    ("value", "debug", "warning"),
    [("debug", True, True), ("warning", False, True), ("", False, False)],
)
def test_sevalla_log_switches_the_library_log_on(value: str, debug: bool, warning: bool) -> None:
    run = _run({"SEVALLA_LOG": value, "SEVALLA_API_KEY": "sk-live-secret-key-1234"}, SCRIPT)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert ("sevalla-async: DEBUG: GET" in run.stderr) is debug
    assert ("sevalla-async: WARNING:" in run.stderr) is warning
    assert "sk-live-secret-key-1234" not in run.stderr


def test_an_unknown_value_is_a_warning_not_a_crash() -> None:
    run = _run({"SEVALLA_LOG": "loud"}, "import sevalla_async; print('imported')")
    assert run.returncode == 0
    assert run.stdout == "imported\n"
    assert "RuntimeWarning: SEVALLA_LOG='loud' is not a log level" in run.stderr
    assert "accepted: debug, info, warning" in run.stderr


async def test_the_handler_redacts_and_is_replaced_not_doubled(
    restore_logger: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEVALLA_API_KEY", "sk-env-key-5678")
    first, second = io.StringIO(), io.StringIO()
    install_handler(first, logging.DEBUG)
    handler = install_handler(second, logging.DEBUG, ["sk-live-flag-1234"])
    await get_with_one_retry("sk-live-flag-1234")
    logging.getLogger("sevalla_async").warning("key sk-env-key-5678 sk-live-flag-1234")
    remove_handler(handler)
    assert first.getvalue() == ""  # replaced, so never a line twice
    text = second.getvalue()
    assert "DEBUG: GET" in text
    assert "WARNING: key *** ***" in text
    assert handler not in logging.getLogger("sevalla_async").handlers
