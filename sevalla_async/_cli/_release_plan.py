"""Release plans for ``release`` (pure): parse and validate every wave before any I/O.

A release plan is a JSON list of waves, each a list of promotions with the API's keys::

    [
      [{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}],
      [{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["...", "..."]}]
    ]

or JSON Lines, one promotion per line with a ``wave`` number (waves run in ascending order
of ``wave``, numbered from 0 in the output)::

    {"wave": 0, "pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}

Every problem is reported at once, each with its wave and entry (from 0) and the field:
``wave 1, entry 2: target_app_ids[0]: 'x' is not a valid UUID``; a JSON Lines problem also
names its line. A target app in two entries is refused: it would be deployed twice.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .. import PromoteRequest
from ._plan import PlanError, parse_json

__all__ = ["parse_release_plan"]


def parse_release_plan(text: str, *, source: str = "plan") -> list[list[PromoteRequest]]:
    """The plan's waves of requests, in order; :class:`PlanError` lists every problem."""
    if text.lstrip().startswith("["):
        raw = _nested(parse_json(text, source), source)
    else:
        raw = _json_lines(text, source)
    problems: list[str] = []
    waves: list[list[PromoteRequest]] = []
    seen: dict[uuid.UUID, str] = {}
    for w, (wave_label, entries) in enumerate(raw):
        requests: list[PromoteRequest] = []
        if not entries:
            problems.append(f"{wave_label}: a wave needs at least one entry")
        for e, (label, entry) in enumerate(entries):
            where = f"wave {w}, entry {e}{label}"
            try:
                request = PromoteRequest.from_dict(entry)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            for target in request.target_app_ids:
                if target in seen:
                    problems.append(
                        f"{where}: target_app_ids: {target} is already a target of "
                        f"{seen[target]} (it would be deployed twice)"
                    )
                seen.setdefault(target, where)
            requests.append(request)
        waves.append(requests)
    if not raw:
        problems.append(f"{source}: the plan has no wave")
    if problems:
        raise PlanError(problems)
    return waves


Raw = list[tuple[str, list[tuple[str, Any]]]]
"""Each wave's label and its entries, each with a label (its line) and the raw object."""


def _nested(data: Any, source: str) -> Raw:
    if not isinstance(data, list):
        raise PlanError([f"{source}: expected a JSON list of waves (lists of objects)"])
    if data and all(isinstance(wave, dict) for wave in data):  # a promote-many plan
        raise PlanError(
            [
                f"{source}: expected waves (a list of lists of entries), got a flat list of "
                "entries (a promote-many plan): wrap it in [ ] to release it as one wave"
            ]
        )
    raw: Raw = []
    problems: list[str] = []
    for w, wave in enumerate(data):
        if not isinstance(wave, list):
            problems.append(
                f"wave {w}: expected a list of objects with pipeline_id, source_app_id and "
                f"target_app_ids, got a JSON {type(wave).__name__}"
            )
            continue
        raw.append((f"wave {w}", [("", entry) for entry in wave]))
    if problems:
        raise PlanError(problems)
    return raw


def _json_lines(text: str, source: str) -> Raw:
    groups: dict[int, list[tuple[str, Any]]] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                f"{source}: line {number} is not valid JSON (column {exc.colno}: {exc.msg})"
            )
            continue
        if not isinstance(entry, dict):
            problems.append(f"{source}: line {number}: expected a JSON object")
            continue
        wave = entry.pop("wave", None)
        if type(wave) is not int or wave < 0:
            problems.append(
                f"{source}: line {number}: wave: expected a whole number >= 0, got {wave!r}"
            )
            continue
        groups.setdefault(wave, []).append((f" (line {number})", entry))
    if problems:
        raise PlanError(problems)
    return [(f"wave {w}", groups[w]) for w in sorted(groups)]
