"""Options are checked once, at the public edge, and each outcome is built once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sevalla_async import PromoteOutcome, SevallaClient, _options, _wait_settings
from sevalla_async.testing import FakeSevalla


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each options builder ran."""
    counts: Counter[str] = Counter()

    def counted(owner: Any, name: str) -> None:
        original = getattr(owner, name).__func__

        def wrapper(cls: Any, *args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return original(cls, *args, **kwargs)

        monkeypatch.setattr(owner, name, classmethod(wrapper))

    counted(_wait_settings.PollSettings, "check")
    counted(_options.ReconcileSettings, "build")
    counted(_options.FanoutSettings, "build")
    return counts


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """How many PromoteOutcome objects were made for each entry index."""
    counts: Counter[int] = Counter()
    original = PromoteOutcome.__init__

    def init(self: PromoteOutcome, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        counts[self.index] += 1

    monkeypatch.setattr(PromoteOutcome, "__init__", init)
    return counts


async def test_a_release_of_two_waves_checks_its_options_once(
    fake: FakeSevalla, client: SevallaClient, checks: Counter[str], built: Counter[int]
) -> None:
    waves = [fake.promote_requests(3, targets=2) for _ in range(2)]
    report = await client.releases.run(waves, reconcile=True, wait_timeout=60)
    assert report.completed
    assert checks == Counter({"check": 1, "build": 2})  # one PollSettings, Fanout, Reconcile
    assert built == Counter({0: 2, 1: 2, 2: 2})  # one outcome per entry of each wave


async def test_promote_many_builds_each_outcome_once(
    fake: FakeSevalla, client: SevallaClient, checks: Counter[str], built: Counter[int]
) -> None:
    outcomes = await client.pipelines.promote_many(fake.promote_requests(5), wait=True)
    assert all(o.succeeded for o in outcomes)
    assert built == Counter(dict.fromkeys(range(5), 1))
    assert checks == Counter({"check": 1, "build": 2})
