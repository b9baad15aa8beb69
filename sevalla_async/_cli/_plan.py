"""Plan files for ``promote-many`` (pure): parse and validate everything before any I/O.

A plan is a JSON list of objects with the API's keys::

    [
      {"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["...", "..."]},
      ...
    ]

or the same objects as JSON Lines, one per line (blank lines ignored): a text whose first
non-blank character is not ``[`` is read as JSON Lines.

Every entry is checked (with :meth:`PromoteRequest.from_dict`) and every problem is
reported at once, each with the entry's index (counted from 0, like the ``index`` of the
JSON output) and the field: ``entry 3: target_app_ids[1]: 'x' is not a valid UUID ...``;
so is an entry that would promote a target of an earlier entry again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .. import PromoteRequest
from .._repeats import RepeatGuard, repeat_error
from ._console import Console, UsageError

__all__ = [
    "PlanError",
    "expecting",
    "load_plan",
    "parse_json",
    "parse_plan",
    "read_plan_text",
]

P = TypeVar("P")


class PlanError(ValueError):
    """The plan cannot be used; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_plan(text: str, *, source: str = "plan") -> list[PromoteRequest]:
    """The plan's requests, in order; raises :class:`PlanError` listing every bad entry.

    Besides each entry's own fields, an entry with a target an earlier entry already
    promotes (same pipeline and source; an exact repeat, in any order, is one) is an error:
    a promotion is not idempotent, so that target would be deployed twice. The rule is the
    SDK fan-out's own (:class:`RepeatGuard`), so a plan that passes is never refused half
    way through the run.
    """
    bracketed = text.lstrip().startswith("[")
    data: Any = parse_json(text, source) if bracketed else _json_lines(text, source)
    if not isinstance(data, list):
        raise PlanError(
            [
                f"{source}: expected a JSON list of objects with pipeline_id, source_app_id "
                f"and target_app_ids, got a JSON {_json_type(data)}"
            ]
        )
    problems: list[str] = []
    requests: list[PromoteRequest] = []
    guard = RepeatGuard()
    for index, entry in enumerate(data):
        try:
            request = PromoteRequest.from_dict(entry)
        except ValueError as exc:
            problems.append(f"entry {index}: {exc}")
            continue
        repeat = guard.earlier(request, index)
        if repeat is not None:
            problems.append(f"entry {index}: {repeat_error(repeat)}")
            continue
        requests.append(request)
    if problems:
        raise PlanError(problems)
    return requests


def expecting(requests: list[PromoteRequest], build: str | None) -> list[PromoteRequest]:
    """``requests``, each without an ``expect_build`` of its own expecting ``build``
    (``--expect-build``; checked by argparse); ``requests`` itself when ``build`` is
    ``None``."""
    if build is None:
        return requests
    return [
        r if r.expect_build is not None else attrs.evolve(r, expect_build=build) for r in requests
    ]


def parse_json(text: str, source: str) -> Any:
    """``text`` as one JSON document, or :class:`PlanError` saying where it is not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            [f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]
        ) from None


def _json_lines(text: str, source: str) -> list[Any]:
    """The entries of a JSON Lines plan; every line that is not JSON is reported."""
    entries: list[Any] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(
                f"{source}: line {number} is not valid JSON (column {exc.colno}: {exc.msg}); "
                "a plan is a JSON list, or JSON Lines with one object per line"
            )
    if problems:
        raise PlanError(problems)
    return entries


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def read_plan_text(name: str) -> str:
    """The text of the plan file ``name`` (``-``: stdin); :class:`UsageError` if unreadable."""
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot read the plan ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name}: the plan is not UTF-8 text") from None


def load_plan(
    name: str, console: Console, parse: Callable[..., P], *, as_data: bool = True
) -> P | None:
    """Read the plan file ``name`` and ``parse(text, source=...)`` it; on a bad plan report
    every problem (:meth:`Console.plan_invalid`: on stderr, and with ``as_data`` also as
    JSON on stdout) and return ``None`` (exit status 2: nothing was sent)."""
    text = read_plan_text(name)
    try:
        return parse(text, source="stdin" if name == "-" else name)
    except PlanError as exc:
        console.plan_invalid(exc.problems, as_data=as_data)
        return None
