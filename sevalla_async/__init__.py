"""sevalla-async: an async-first Python SDK for the Sevalla PaaS API (v3).

::

    from sevalla_async import SevallaClient

    async with SevallaClient() as client:          # key from SEVALLA_API_KEY
        promotions = await client.pipelines.promote(
            pipeline_id, source_app_id=source, target_app_ids=[a, b]
        )

See the README for fan-out, waiting for deployments, errors, retries and testing.
"""

import logging as _logging

from ._client import SevallaClient
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SevallaError,
    UnprocessableEntityError,
)
from ._fanout import FanoutProgress
from ._models import (
    Deployment,
    DeploymentStatus,
    Pipeline,
    PipelineStage,
    PromoteOutcome,
    PromoteRequest,
    Promotion,
)
from ._retry import RetryPolicy
from ._version import __version__
from ._wait import WaitAllError

# A library stays silent until the application configures logging: without this, Python's
# last-resort handler prints the retry warnings to stderr.
_logging.getLogger("sevalla_async").addHandler(_logging.NullHandler())

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "Deployment",
    "DeploymentStatus",
    "FanoutProgress",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "Pipeline",
    "PipelineStage",
    "PromoteOutcome",
    "PromoteRequest",
    "Promotion",
    "RateLimitError",
    "RetryPolicy",
    "SevallaClient",
    "SevallaError",
    "UnprocessableEntityError",
    "WaitAllError",
    "__version__",
]
