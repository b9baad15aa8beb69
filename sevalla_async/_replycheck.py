"""Checks on a promote reply, after the API accepted the request (pure, no I/O).

Once a POST has been sent, nothing may raise a plain ``ValueError`` (that would tell the
caller "nothing was sent"): a 2xx reply that does not name each requested target exactly
once, or names an id the API cannot have made, is an :class:`APIResponseValidationError`
that keeps the raw body, and leaves the promotion ``unknown``.
"""

from __future__ import annotations

from typing import Any

from ._errors import APIResponseValidationError
from ._ids import to_uuid
from ._models import PromoteRequest, Promotion
from ._protocol import Response, decode

__all__ = ["checked_promotions", "promote_decoder"]


def checked_promotions(
    request: PromoteRequest, promotions: list[Promotion]
) -> tuple[list[Promotion] | None, str | None]:
    """The promotions in target order, or ``(None, why)`` when the reply does not cover
    each requested target exactly once with ids the API accepts."""
    wanted = request.target_app_ids
    by_target: dict[Any, Promotion] = {}
    for index, promotion in enumerate(promotions):
        try:
            to_uuid(promotion.target_app_id, f"[{index}].target_app_id")
            to_uuid(promotion.deployment_id, f"[{index}].deployment_id")
        except ValueError as exc:
            return None, str(exc)
        if promotion.target_app_id in by_target:
            return None, f"[{index}].target_app_id: {promotion.target_app_id} appears twice"
        by_target[promotion.target_app_id] = promotion
    extra = [t for t in by_target if t not in set(wanted)]
    if extra:
        return None, f"target {extra[0]} was not requested"
    missing = [t for t in wanted if t not in by_target]
    if missing:
        return None, (
            f"{len(missing)} of {len(wanted)} requested targets missing from the reply "
            f"(first: {missing[0]})"
        )
    return [by_target[t] for t in wanted], None


def promote_decoder(request: PromoteRequest, method: str, url: str) -> Any:
    """A decoder for the request loop: the reply as promotions in target order, or
    :class:`APIResponseValidationError` (raw body kept)."""

    def decoder(response: Response) -> list[Promotion]:
        promotions: list[Promotion] = decode(response, list[Promotion], method=method, url=url)
        ordered, why = checked_promotions(request, promotions)
        if ordered is None:
            raise APIResponseValidationError(
                f"the promote reply does not cover the request: {why}",
                status_code=response.status,
                request_id=response.request_id,
                headers=response.headers,
                body=response.body.decode("utf-8", "replace"),
                method=method,
                url=url,
            )
        return ordered

    return decoder
