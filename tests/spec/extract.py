"""Copy the reply schemas the SDK relies on out of the official OpenAPI document.

Run it again when the spec snapshot changes::

    python tests/spec/extract.py [path/to/openapi.json]

The default input is ``../shared/reference/openapi.json`` next to the repository. It writes
``tests/spec/responses.json``: for each operation its method, path and the JSON schema of
every documented reply status, copied verbatim (the spec writes every schema inline). The
tests read only that copy, never the spec itself.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

OPERATIONS = (
    "promotePipelineV3",
    "listPipelinesV3",
    "getPipelineV3",
    "listDeploymentsV3",
    "getDeploymentV3",
    "cancelDeploymentV3",
    "rollbackDeploymentV3",
    "getApplicationDeploymentLogsV3",
)

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC = HERE.parents[1].parent / "shared" / "reference" / "openapi.json"
OUTPUT = HERE / "responses.json"


def extract(spec: dict) -> dict:
    found: dict[str, dict] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            op_id = operation.get("operationId")
            if op_id not in OPERATIONS:
                continue
            responses = {}
            for status, reply in operation["responses"].items():
                schema = reply["content"]["application/json"]["schema"]
                if "$ref" in json.dumps(schema):
                    raise SystemExit(f"{op_id} {status}: $ref found; resolve it before copying")
                responses[status] = schema
            found[op_id] = {"method": method.upper(), "path": path, "responses": responses}
    missing = [op for op in OPERATIONS if op not in found]
    if missing:
        raise SystemExit(f"operations not in the spec: {', '.join(missing)}")
    return {op: found[op] for op in OPERATIONS}


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    raw = source.read_bytes()
    spec = json.loads(raw)
    document = {
        "source": {
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "openapi": spec["openapi"],
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "operations": extract(spec),
    }
    OUTPUT.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(document['operations'])} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
