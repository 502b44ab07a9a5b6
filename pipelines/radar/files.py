"""S3 keys and file contents of one organization's run: the staged fetch and data.json/data.csv.

Every key is a function of (orgId, timestamp) only, so a retried task or a redriven execution
overwrites the same objects instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.common.errors import InvalidInputError
from pipelines.common.jsontext import utf8_json
from pipelines.radar.cloudflare import NOT_FOUND, OK, QueryResult
from pipelines.radar.flatten import to_csv

WRITTEN = "written"


def staging_key(prefix: str, timestamp: str, org_id: str) -> str:
    """Where fetch_radar stages one organization's responses."""
    return f"{prefix.rstrip('/')}/{timestamp}/{org_id}/radar.json"


def output_keys(org_id: str, timestamp: str) -> dict[str, str]:
    """``{"json": …, "csv": …}``: the organization's files for this run."""
    return {"json": f"{org_id}/{timestamp}/data.json", "csv": f"{org_id}/{timestamp}/data.csv"}


def org_status(results: Mapping[str, QueryResult]) -> str:
    """``not_found`` when every query answered 404, else ``ok`` (partial data is still data)."""
    return NOT_FOUND if results and all(r.status == NOT_FOUND for r in results.values()) else OK


def staged_document(org: Mapping, timestamp: str, results: Mapping[str, QueryResult]) -> dict:
    """What fetch_radar stages: the org's parameters and each query's status and response body."""
    return {
        "orgId": org["orgId"],
        "timestamp": timestamp,
        "connectorParams": dict(org["connectorParams"]),
        "status": org_status(results),
        "queries": {name: {"status": r.status, "response": r.body} for name, r in results.items()},
    }


def data_document(staged: object, org_id: str, timestamp: str) -> dict:
    """data.json's content from a staged document, after checking it belongs to this org and run."""
    if not isinstance(staged, dict):
        raise InvalidInputError("staged", "must be a JSON object")
    for name, expected in (("orgId", org_id), ("timestamp", timestamp)):
        if staged.get(name) != expected:
            raise InvalidInputError(f"staged.{name}", f"is {staged.get(name)!r}, expected {expected!r}")
    queries = staged.get("queries")
    if not isinstance(queries, dict) or not all(isinstance(q, dict) and "response" in q for q in queries.values()):
        raise InvalidInputError("staged.queries", "must map each query name to {status, response}")
    return {
        "orgId": org_id,
        "timestamp": timestamp,
        "connectorParams": staged.get("connectorParams", {}),
        "radarData": {name: query["response"] for name, query in queries.items()},
    }


def render_files(document: dict) -> dict[str, bytes]:
    """``{"json": …, "csv": …}`` bodies (UTF-8, no BOM) for one data document."""
    return {
        "json": utf8_json(document, indent=2),
        "csv": to_csv([document]).encode("utf-8"),
    }
