"""The shapes of the API's replies that are not public models: the pages of the list
calls, the reply of a cancel, and the checked decode target of ``getPipelineV3``. Decode
one with :func:`._protocol.decode` (no I/O here).
"""

from __future__ import annotations

from typing import Any

import attrs

from ._convert import converter
from ._models import Deployment, Pipeline

__all__ = ["CancelReply", "DeploymentPage", "PipelineDetail", "PipelinePage"]


@attrs.frozen(slots=True)
class DeploymentPage:
    """One page of ``listDeploymentsV3``."""

    data: list[Deployment]
    total: int
    offset: int
    limit: int


@attrs.frozen(slots=True)
class PipelinePage:
    """One page of ``listPipelinesV3`` (stages carry only id, name, type and order)."""

    data: list[Pipeline]
    total: int
    offset: int
    limit: int


@attrs.frozen(slots=True)
class CancelReply:
    """The reply of ``cancelDeploymentV3``."""

    message: str


class PipelineDetail:
    """Decode target of ``getPipelineV3``: a :class:`Pipeline`, after checking the keys that
    reply requires and the list reply lacks (``company_id``, ``project_id`` and the stages'
    details), so that a reply missing one is an error rather than a silent ``None``."""


_PIPELINE_DETAIL_KEYS = ("company_id", "project_id")
_STAGE_DETAIL_KEYS = (
    "pipeline_id",
    "branch",
    "auto_create_app",
    "delete_stale_apps",
    "stale_app_days",
    "created_at",
    "updated_at",
)


def _missing_detail(data: Any) -> str | None:
    """The first key ``getPipelineV3`` requires that ``data`` lacks, as a path, or None."""
    if not isinstance(data, dict):
        return None  # the Pipeline hook reports the wrong type
    for key in _PIPELINE_DETAIL_KEYS:
        if key not in data:
            return key
    stages = data.get("stages")
    if isinstance(stages, list):
        for index, stage in enumerate(stages):
            if isinstance(stage, dict):
                for key in _STAGE_DETAIL_KEYS:
                    if key not in stage:
                        return f"stages[{index}].{key}"
    return None


def _structure_pipeline_detail(data: Any, _: Any) -> Pipeline:
    missing = _missing_detail(data)
    if missing is not None:
        raise ValueError(f"{missing}: required field is missing")
    # Looked up here, not at import: cattrs generates hooks on first use (import time).
    pipeline: Pipeline = converter.get_structure_hook(Pipeline)(data, Pipeline)
    return pipeline


converter.register_structure_hook(PipelineDetail, _structure_pipeline_detail)
