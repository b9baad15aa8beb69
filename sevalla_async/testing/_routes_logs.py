"""The fake's logs route (``getApplicationDeploymentLogsV3``), with the spec's query rules:
``from``/``to`` date-times (default: from an hour before the server's clock, to now), ``limit``
1-5000 (default 1000), ``filters`` a JSON array of ``{key, operator, value|values}``."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from ._http import FakeAPIError, FakeRequest, Reply, Route, int_query, json_reply, path_uuid
from ._logs import micros_of, newest
from ._routes_deployments import deployment_of

__all__ = ["routes"]

# The spec's date-time pattern for ``from``/``to`` (UTC, "Z", seconds optional).
_DATE_TIME = re.compile(
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29"
    r"|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z))$",
    re.ASCII,
)
_KEYS = ("severity", "message", "service", "id")


def _moment(request: FakeRequest, name: str, default: datetime | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None if default is None else micros_of(default)
    if not _DATE_TIME.match(raw):
        raise FakeAPIError(400, f'querystring/{name} must match format "date-time"')
    date, _, clock = raw[:-1].partition("T")
    hms, _, fraction = clock.partition(".")
    year, month, day = (int(p) for p in date.split("-"))
    hour, minute, second = (int(p) for p in f"{hms}:0".split(":")[:3])
    moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    return micros_of(moment) + int(fraction[:6].ljust(6, "0") or 0)


def _test(item: Any, index: int) -> Callable[[dict[str, Any]], bool]:
    """One filter object as a predicate on an entry (400 when it is not one)."""
    where = f"querystring/filters/{index}"
    if not isinstance(item, dict) or item.get("key") not in _KEYS:
        raise FakeAPIError(400, f"{where}/key must be one of {', '.join(_KEYS)}")
    key, operator = item["key"], item.get("operator")
    if operator == "IN":
        values = item.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise FakeAPIError(400, f"{where}/values must be an array of strings")
        return lambda entry: entry[key] in values
    value = item.get("value")
    if not isinstance(value, str):
        raise FakeAPIError(400, f"{where}/value must be string")
    tests: dict[Any, Callable[[dict[str, Any]], bool]] = {
        "EQUALS": lambda entry: entry[key] == value,
        "NOT_EQUALS": lambda entry: entry[key] != value,
        "CONTAINS": lambda entry: value in entry[key],
    }
    if operator not in tests:
        raise FakeAPIError(400, f"{where}/operator must be one of EQUALS, NOT_EQUALS, CONTAINS, IN")
    return tests[operator]


def _filters(request: FakeRequest) -> list[Callable[[dict[str, Any]], bool]]:
    raw = request.query.get("filters")
    if raw is None:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        items = None  # not JSON: refused as not an array
    if not isinstance(items, list):
        raise FakeAPIError(400, "querystring/filters must be a JSON array")
    return [_test(item, index) for index, item in enumerate(items)]


def get_logs(request: FakeRequest) -> Reply:
    """The deployment's entries in the range that pass every filter: the ``limit``
    latest of them, oldest first."""
    state = request.state
    app_id = path_uuid(request, "id")
    deployment_id = path_uuid(request, "deployment_id")
    limit = int_query(request, "limit", 1000, 1, 5000)
    start = _moment(request, "from", state.server_now() - timedelta(hours=1)) or 0
    end = _moment(request, "to", None)  # "now": no entry is later than the server's now
    tests = _filters(request)
    state.materialize()
    deployment_of(state, app_id, deployment_id)
    chosen = [
        entry
        for entry in state.logs.get(deployment_id, [])
        if start <= entry["unix_timestamp"] <= (end if end is not None else math.inf)
        and all(test(entry) for test in tests)
    ]
    return json_reply(newest(chosen, limit))


def routes(prefix: str) -> list[Route]:
    base = f"{prefix}/applications/{{id}}/deployments/{{deployment_id}}/logs"
    return [Route("GET", base, get_logs)]
