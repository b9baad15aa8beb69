"""The options of a release, checked once before anything is sent (``ValueError`` naming
the field): the waves, what an earlier run already did (``done``, ``rolled_back``), the
hooks; held in one frozen :class:`ReleaseSettings` that the run reads unchecked."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ._failure_logs import check_failure_logs
from ._fanout import as_request
from ._models import PromoteRequest, Promotion
from ._options import FanoutSettings
from ._release_reports import (
    DeploymentProgress,
    Gate,
    OnFailure,
    ReleaseLedger,
    WaveReport,
    check_hooks,
)

__all__ = ["ReleaseSettings", "check_waves"]


def check_waves(waves: object) -> list[list[PromoteRequest]]:
    """Every wave as validated requests, or ``ValueError`` naming ``waves[i][j]`` and the
    field; a target app in two entries (of any waves) is refused too."""
    if isinstance(waves, (str, bytes, dict)) or not isinstance(waves, Iterable):
        raise ValueError(
            f"waves: expected a list of waves (each a list of requests), got {type(waves).__name__}"
        )
    checked: list[list[PromoteRequest]] = []
    seen: dict[uuid.UUID, str] = {}
    for i, wave in enumerate(waves):
        if isinstance(wave, (str, bytes, dict, PromoteRequest)) or not isinstance(wave, Iterable):
            raise ValueError(f"waves[{i}]: expected a list of requests, got {type(wave).__name__}")
        requests: list[PromoteRequest] = []
        for j, item in enumerate(wave):
            name = f"waves[{i}][{j}]"
            try:
                request = as_request(item)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name}: {exc}") from None
            for target in request.target_app_ids:
                if target in seen:
                    raise ValueError(
                        f"{name}.target_app_ids: {target} is already a target of {seen[target]}"
                    )
                seen[target] = name
            requests.append(request)
        if not requests:
            raise ValueError(f"waves[{i}]: a wave needs at least one request")
        checked.append(requests)
    if not checked:
        raise ValueError("waves: at least one wave is required")
    return checked


def _check_done(
    done: Mapping[tuple[int, int], Sequence[Promotion]] | None,
    waves: list[list[PromoteRequest]],
) -> dict[tuple[int, int], list[Promotion]]:
    """``done`` checked against the waves: keys ``(wave, entry)`` of the plan, values
    :class:`Promotion` lists for targets of that entry (``ValueError`` naming the key)."""
    if done is None:
        return {}
    if not isinstance(done, Mapping):
        raise ValueError("done: expected a mapping of (wave, entry) to promotions")
    out: dict[tuple[int, int], list[Promotion]] = {}
    for key, promotions in done.items():
        if (
            not isinstance(key, tuple)
            or len(key) != 2
            or not all(type(k) is int for k in key)
            or not 0 <= key[0] < len(waves)
            or not 0 <= key[1] < len(waves[key[0]])
        ):
            raise ValueError(f"done[{key!r}]: not a (wave, entry) position of the waves")
        targets = set(waves[key[0]][key[1]].target_app_ids)
        listed = list(promotions)
        for p in listed:
            if not isinstance(p, Promotion) or p.target_app_id not in targets:
                raise ValueError(f"done[{key!r}]: {p!r} is not a promotion of a target of it")
        out[key] = listed
    return out


def _check_rolled_back(
    rolled_back: Mapping[tuple[int, uuid.UUID], uuid.UUID | None] | None,
    waves: list[list[PromoteRequest]],
) -> dict[tuple[int, uuid.UUID], uuid.UUID | None]:
    """``rolled_back`` checked against the waves: keys ``(wave, app id)`` of a target of
    that wave, values the rollback's deployment id or ``None`` (``ValueError`` naming the
    key)."""
    if rolled_back is None:
        return {}
    if not isinstance(rolled_back, Mapping):
        raise ValueError("rolled_back: expected a mapping of (wave, app id) to a deployment id")
    out: dict[tuple[int, uuid.UUID], uuid.UUID | None] = {}
    for key, deployment_id in rolled_back.items():
        wave, app = key if isinstance(key, tuple) and len(key) == 2 else (None, None)
        if (
            type(wave) is not int
            or not 0 <= wave < len(waves)
            or not any(app in r.target_app_ids for r in waves[wave])
        ):
            raise ValueError(f"rolled_back[{key!r}]: not a (wave, target app id) of the waves")
        if deployment_id is not None and not isinstance(deployment_id, uuid.UUID):
            raise ValueError(f"rolled_back[{key!r}]: expected a deployment id (UUID) or None")
        out[(wave, app)] = deployment_id
    return out


@attrs.frozen(kw_only=True)
class ReleaseSettings:
    """Every option of one release, checked once by :meth:`build` (``fanout``: how each
    wave is promoted and waited for, its ``plan`` also that of the rollbacks' waits)."""

    waves: list[list[PromoteRequest]]
    fanout: FanoutSettings
    gate: Gate | None
    on_failure: OnFailure
    ledger: ReleaseLedger | None
    on_wave: Callable[[int, WaveReport | None], object] | None
    on_deployment: Callable[[DeploymentProgress], object] | None
    start: int
    done: dict[tuple[int, int], list[Promotion]]
    on_send: Callable[[int, int, PromoteRequest], object] | None
    rolled_back: dict[tuple[int, uuid.UUID], uuid.UUID | None]
    on_rollback_send: Callable[[int, uuid.UUID], object] | None
    failure_logs: int = 0

    @classmethod
    def build(
        cls,
        waves: Any,
        *,
        fanout: FanoutSettings,
        gate: Gate | None,
        on_failure: OnFailure,
        ledger: ReleaseLedger | None,
        on_wave: Callable[[int, WaveReport | None], object] | None,
        on_deployment: Callable[[DeploymentProgress], object] | None,
        start: int,
        done: Mapping[tuple[int, int], Sequence[Promotion]] | None,
        on_send: Callable[[int, int, PromoteRequest], object] | None,
        rolled_back: Mapping[tuple[int, uuid.UUID], uuid.UUID | None] | None,
        on_rollback_send: Callable[[int, uuid.UUID], object] | None,
        failure_logs: int = 0,
    ) -> ReleaseSettings:
        """The options of :meth:`Releases.run` (which holds their defaults), checked."""
        if on_failure not in ("stop", "rollback"):
            raise ValueError(f"on_failure: expected 'stop' or 'rollback', got {on_failure!r}")
        if gate is not None and not callable(gate):
            raise ValueError("gate: expected a callable taking a WaveReport")
        if ledger is not None and not isinstance(ledger, ReleaseLedger):
            raise ValueError("ledger: expected a ReleaseLedger")
        check_hooks(
            on_wave=on_wave,
            on_deployment=on_deployment,
            on_send=on_send,
            on_rollback_send=on_rollback_send,
        )
        check_failure_logs(failure_logs)
        checked = check_waves(waves)
        if type(start) is not int or not 0 <= start < len(checked):
            raise ValueError(f"start: must be a wave index from 0 to {len(checked) - 1}")
        return cls(
            waves=checked,
            fanout=fanout,
            gate=gate,
            on_failure=on_failure,
            ledger=ledger,
            on_wave=on_wave,
            on_deployment=on_deployment,
            start=start,
            done=_check_done(done, checked),
            on_send=on_send,
            rolled_back=_check_rolled_back(rolled_back, checked),
            on_rollback_send=on_rollback_send,
            failure_logs=failure_logs,
        )
