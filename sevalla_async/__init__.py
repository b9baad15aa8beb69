"""sevalla-async: an async-first Python SDK for the Sevalla PaaS API (v3).

::

    from sevalla_async import SevallaClient

    async with SevallaClient() as client:          # key from SEVALLA_API_KEY
        promotions = await client.pipelines.promote(
            pipeline_id, source_app_id=source, target_app_ids=[a, b]
        )

See the README for fan-out, waiting for deployments, errors, retries and testing.
"""

from . import _logging
from ._client import SevallaClient
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientRateLimitError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SevallaError,
    UnprocessableEntityError,
)
from ._fanout import FanoutLedger, FanoutProgress, ProgressHook
from ._hooks import EventHooks, RequestEvent, RequestHook, ResponseEvent, ResponseHook
from ._models import (
    Build,
    Deployment,
    DeploymentStatus,
    LogEntry,
    Pipeline,
    PipelineStage,
    PromoteRequest,
    PromoteRequestDict,
    Promotion,
    TargetVerdict,
)
from ._options import (
    FanoutKeywords,
    OnIndexedPoll,
    PromoteAndWaitKeywords,
    ReconcileKeywords,
    WaitKeywords,
)
from ._outcomes import PromotionState
from ._promote_outcome import PromoteOutcome
from ._record import TargetOutcome
from ._releases import (
    DeploymentProgress,
    ReleaseLedger,
    ReleaseReport,
    RollbackOutcome,
    WaveReport,
)
from ._resources.deployments import Deployments
from ._resources.pipelines import Pipelines
from ._resources.releases import Releases
from ._response import APIResponse
from ._result_errors import (
    BuildChangedError,
    FanoutError,
    PromotionUnresolvedError,
    WaitAllError,
)
from ._retry import RetryPolicy
from ._transport import AiohttpTransport, Transport, TransportRequest, TransportResponse
from ._version import __version__
from ._wait import OnPoll, WaitOptions

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AiohttpTransport",
    "AuthenticationError",
    "BadRequestError",
    "Build",
    "BuildChangedError",
    "ClientRateLimitError",
    "ConflictError",
    "Deployment",
    "DeploymentProgress",
    "DeploymentStatus",
    "Deployments",
    "EventHooks",
    "FanoutError",
    "FanoutKeywords",
    "FanoutLedger",
    "FanoutProgress",
    "InternalServerError",
    "LogEntry",
    "NotFoundError",
    "OnIndexedPoll",
    "OnPoll",
    "PermissionDeniedError",
    "Pipeline",
    "PipelineStage",
    "Pipelines",
    "ProgressHook",
    "PromoteAndWaitKeywords",
    "PromoteOutcome",
    "PromoteRequest",
    "PromoteRequestDict",
    "Promotion",
    "PromotionState",
    "PromotionUnresolvedError",
    "RateLimitError",
    "ReconcileKeywords",
    "ReleaseLedger",
    "ReleaseReport",
    "Releases",
    "RequestEvent",
    "RequestHook",
    "ResponseEvent",
    "ResponseHook",
    "RetryPolicy",
    "RollbackOutcome",
    "SevallaClient",
    "SevallaError",
    "TargetOutcome",
    "TargetVerdict",
    "Transport",
    "TransportRequest",
    "TransportResponse",
    "UnprocessableEntityError",
    "WaitAllError",
    "WaitKeywords",
    "WaitOptions",
    "WaveReport",
    "__version__",
]

_logging.setup_from_env()  # SEVALLA_LOG=debug|info|warning: the SDK's log on stderr
