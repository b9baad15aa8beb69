"""``sevalla-async fake-server``: FakeSevalla as a local development server.

It seeds a few pipelines, prints the base URL, the key and ready-to-copy commands, and
serves until Ctrl-C or SIGTERM (a normal stop: exit status 0). A scenario can be played
on it (:mod:`._fake_scenario`): failing apps, slow replies, builds pushed later.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._console import EXIT_OK, Console
from ._fake_scenario import Scenario, scenario_lines

__all__ = ["serve"]

SEED_NAMES = ("web", "api", "worker", "billing", "search", "admin", "docs", "mobile")


async def serve(
    args: argparse.Namespace, console: Console, *, clock: Callable[[], float] = time.monotonic
) -> int:
    """The ``fake-server`` command: run the fake until cancelled; ``clock`` is its clock
    (tests pass a FakeClock: the ``--slow`` replies and ``--push-after`` builds then
    follow it)."""
    from ..testing import FakeSevalla

    fake = FakeSevalla(
        api_key=args.key, host=args.host, port=args.port, clock=clock, latency=args.slow
    )
    async with fake:
        pipelines = [
            fake.add_pipeline(
                name=SEED_NAMES[i] if i < len(SEED_NAMES) else f"pipeline-{i + 1}",
                apps_per_stage=args.targets,
            )
            for i in range(args.pipelines)
        ]
        scenario = Scenario.from_args(args, pipelines)
        scenario.play(fake)
        if args.plan_file is not None:
            plan = [
                {
                    "pipeline_id": str(p.id),
                    "source_app_id": str(p.stages[0].app_ids[0]),
                    "target_app_ids": [str(a) for a in p.stages[-1].app_ids],
                }
                for p in pipelines
            ]
            text = json.dumps(plan, indent=2) + "\n"
            await asyncio.to_thread(Path(args.plan_file).write_text, text, encoding="utf-8")
        document = _seeded_fake_document(fake.base_url, fake.api_key, pipelines)
        text = _instructions(fake.base_url, fake.api_key, pipelines, args.plan_file)
        document["scenario"] = scenario.as_json()
        console.emit(document, "\n".join([text, *scenario_lines(scenario)]))
        await asyncio.Event().wait()  # until the runner cancels us on a signal
    return EXIT_OK  # pragma: no cover - only a signal ends the wait


def _seeded_fake_document(base_url: str, api_key: str, pipelines: list[Any]) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "api_key": api_key,
        "pipelines": [
            {
                "id": str(p.id),
                "name": p.display_name,
                "stages": [
                    {"name": s.display_name, "app_ids": [str(a) for a in s.app_ids]}
                    for s in p.stages
                ],
            }
            for p in pipelines
        ],
    }


def _instructions(base_url: str, api_key: str, pipelines: list[Any], plan_file: str | None) -> str:
    lines = [
        f"FakeSevalla is listening on {base_url} (Ctrl-C to stop)",
        "",
        "Point the SDK or the CLI at it:",
        f"  export SEVALLA_BASE_URL={base_url}",
        f"  export SEVALLA_API_KEY={api_key}",
        "",
        f"Seeded pipelines ({len(pipelines)}):",
    ]
    for p in pipelines:
        lines.append(f"  {p.display_name}  {p.id}")
        for s in p.stages:
            lines.append(f"    {s.display_name:<10} apps: {' '.join(str(a) for a in s.app_ids)}")
    if pipelines:
        first = pipelines[0]
        source = first.stages[0].app_ids[0]
        targets = " ".join(f"--target {a}" for a in first.stages[-1].app_ids)
        lines += [
            "",
            "Try:",
            "  sevalla-async pipelines list",
            f"  sevalla-async promote {first.id} --source {source} {targets}",
            f"  sevalla-async deployments list {first.stages[-1].app_ids[0]}",
        ]
        if plan_file is not None:
            lines.append(f"  sevalla-async promote-many {plan_file}")
    return "\n".join(lines)
