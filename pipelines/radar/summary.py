"""The run's summary over the Map's per-organization results."""

from __future__ import annotations

from pipelines.common.errors import InvalidInputError
from pipelines.radar.cloudflare import NOT_FOUND
from pipelines.radar.errors import OrganizationsFailedError
from pipelines.radar.files import WRITTEN

_CAUSE_CHARS = 300
_LISTED_FAILURES = 50
FAILED = "failed"


def _org_id(item: dict, index: int) -> str:
    org = item.get("org")  # a caught item still carries the Map input {timestamp, org}
    for candidate in (item.get("orgId"), org.get("orgId") if isinstance(org, dict) else None):
        if isinstance(candidate, str) and candidate:
            return candidate
    return f"<item {index}>"


def _failure(item: dict) -> str:
    # A Catch hands over {"Error": name, "Cause": text}, nested or flattened into error/cause.
    error, cause = item.get("error"), item.get("cause", "")
    if isinstance(error, dict):
        error, cause = error.get("Error", "Error"), error.get("Cause", cause)
    return f"{error or 'Error'}: {str(cause or '')[:_CAUSE_CHARS]}".rstrip(": ")


def summarize(results: object, rejected: object = None) -> dict:
    """Counts and orgIds per outcome; OrganizationsFailedError naming every failed org, if any.

    An item failed if its ``status`` is ``failed`` or it carries an ``error`` (what a Catch
    leaves); otherwise its ``status`` is ``written`` or ``not_found``.
    """
    if not isinstance(results, list):
        raise InvalidInputError("results", "must be the list of per-organization results from the Map")
    outcome: dict[str, list] = {"written": [], "notFound": [], "failed": []}
    for index, item in enumerate(results):
        if not isinstance(item, dict):
            raise InvalidInputError(f"results[{index}]", "must be an object")
        org_id = _org_id(item, index)
        if item.get("status") == FAILED or "error" in item:
            outcome["failed"].append({"orgId": org_id, "error": _failure(item)})
        elif item.get("status") == WRITTEN:
            outcome["written"].append(org_id)
        elif item.get("status") == NOT_FOUND:
            outcome["notFound"].append(org_id)
        else:
            problem = f"must be written, not_found or failed, got {item.get('status')!r}"
            raise InvalidInputError(f"results[{index}].status", problem)
    rejected_count = len(rejected) if isinstance(rejected, list) else 0
    summary = {
        "counts": {
            "written": len(outcome["written"]),
            "notFound": len(outcome["notFound"]),
            "failed": len(outcome["failed"]),
            "rejected": rejected_count,
        },
        **outcome,
    }
    if outcome["failed"]:
        # Step Functions keeps at most 32 KB of an error's cause: list the first failures in full.
        failed = outcome["failed"]
        listing = "; ".join(f"{f['orgId']} ({f['error']})" for f in failed[:_LISTED_FAILURES])
        if len(failed) > _LISTED_FAILURES:
            rest = failed[_LISTED_FAILURES:]
            listing += f"; and {len(rest)} more: " + ", ".join(f["orgId"] for f in rest)
        raise OrganizationsFailedError(
            f"{len(outcome['failed'])} of {len(results)} organizations failed "
            f"({summary['counts']['written']} written, {summary['counts']['notFound']} not found): {listing}"
        )
    return summary
