"""The errors that carry what was done before they were raised: a promotion whose
reconciliation could not decide (:class:`PromotionUnresolvedError`), a fan-out whose input
failed (:class:`FanoutError`), a wait over many deployments (:class:`WaitAllError`).

They sit above :mod:`._promote_outcome` (a :class:`FanoutError` holds outcomes), which sits
above the base errors of :mod:`._errors`: the modules form no circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ._errors import APIError, SevallaError
from ._models import Build, Deployment, Promotion, TargetVerdict
from ._outcomes import PromotionState
from ._promote_outcome import PromoteOutcome
from ._record import TargetOutcome

__all__ = ["BuildChangedError", "FanoutError", "PromotionUnresolvedError", "WaitAllError"]


class PromotionUnresolvedError(APIError):
    """A promotion's outcome stayed ``unknown``: reconciliation could not decide every
    target within ``reconcile_timeout``.

    Attributes:
        verdicts: the last :class:`TargetVerdict` of every target, in target order (the
            decided ones included: ``promoted=True`` names the deployment found).
        promotion_state: always ``unknown``.
        sent_at: when the ambiguous request was sent.
        targets: every target's :class:`TargetOutcome` (those found promoted, those still
            ``unknown`` with the ``sent_at`` of their own last send).
    """

    verdicts: list[TargetVerdict]

    def __init__(
        self,
        message: str,
        *,
        verdicts: Sequence[TargetVerdict],
        sent_at: datetime | None,
        method: str | None = None,
        url: str | None = None,
        targets: Sequence[TargetOutcome] | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=1)
        self.verdicts = list(verdicts)
        self.promotion_state: PromotionState | None = PromotionState.UNKNOWN
        self.write_state: PromotionState | None = PromotionState.UNKNOWN
        self.sent_at = sent_at
        self.targets: tuple[TargetOutcome, ...] | None = None if targets is None else tuple(targets)


class FanoutError(SevallaError):
    """A fan-out stopped because its input raised while being read.

    No further input was read; the requests in flight finished first. The input's
    exception is chained as ``__cause__``.

    Attributes:
        outcomes: one :class:`PromoteOutcome` for every entry read, in input order; for
            ``promote_iter`` without a ``ledger``, empty (every outcome had been yielded
            before the error, and none is kept: its memory stays bounded).
    """

    outcomes: list[PromoteOutcome]

    def __init__(self, message: str, outcomes: Sequence[PromoteOutcome]) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)


class WaitAllError(SevallaError):
    """Some deployments of :meth:`Deployments.wait_all` (or
    :meth:`Pipelines.promote_and_wait`) could not be waited for to the end: the wait's
    timeout ran out, or an API call failed after the client's retries.

    Nothing is lost: every other deployment was still waited for, and :attr:`results` has,
    in input order, the final :class:`Deployment` of each one that finished (successful or
    not: a deployment that *failed* is a result, not an error) or the error of each one
    that did not (an :class:`APITimeoutError` carries the last deployment seen in
    ``last_result``).

    Attributes:
        results: one entry per input, in input order: a Deployment or a SevallaError.
        promotions: what was waited for, as :class:`Promotion` (app id, deployment id), in
            the same order.
    """

    results: list[Deployment | SevallaError]
    promotions: list[Promotion]

    def __init__(
        self, results: Sequence[Deployment | SevallaError], promotions: Sequence[Promotion]
    ) -> None:
        self.results = list(results)
        self.promotions = list(promotions)
        errors = self.errors
        index, first = next(iter(errors.items()))
        super().__init__(
            f"{len(errors)} of {len(self.results)} "
            f"{'deployment' if len(self.results) == 1 else 'deployments'} could not be waited "
            f"for to the end; the first, #{index} (deployment "
            f"{self.promotions[index].deployment_id}): {type(first).__name__}: {first}"
        )

    @property
    def errors(self) -> dict[int, SevallaError]:
        """The errors, by input position."""
        return {i: r for i, r in enumerate(self.results) if isinstance(r, SevallaError)}

    @property
    def deployments(self) -> dict[int, Deployment]:
        """The deployments that finished, by input position."""
        return {i: r for i, r in enumerate(self.results) if isinstance(r, Deployment)}


class BuildChangedError(APIError):
    """The source app does not run the build a promotion expected (``expect_build``).

    Raised before sending when the source's current build (its latest successful
    deployment) differs from ``expected``: nothing was sent (``promotion_state`` is
    ``not_sent``). Raised after the fact when a deployment the promotion started carries
    another build than the one checked before sending (the source moved between the check
    and the POST): the promotion was made (``promoted``), ``deployments`` holds the
    deployments of the other build; it is never counted a success.

    Attributes:
        expected: the build that was expected (a :class:`Build`, or the sha / image URL
            text it was given as).
        actual: the build found (``None`` when the source never succeeded).
        deployments: the deployments of another build (after the fact), else empty.
    """

    expected: Build | str
    actual: Build | None
    deployments: list[Deployment]

    def __init__(
        self,
        message: str,
        *,
        expected: Build | str,
        actual: Build | None,
        deployments: Sequence[Deployment] = (),
    ) -> None:
        super().__init__(message, attempts=0)
        self.expected = expected
        self.actual = actual
        self.deployments = list(deployments)
        self.promotion_state: PromotionState | None = (
            PromotionState.PROMOTED if deployments else PromotionState.NOT_SENT
        )
        self.write_state: PromotionState | None = self.promotion_state
