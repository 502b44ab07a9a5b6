"""Lambda entry points of the incidents pipeline (thin: parse, call logic, do I/O through adapters).

Each Task passes its ``Payload`` output on unchanged as the next Task's event. Every step
returns ``success``; any raised error is typed (``pipelines.common.errors``,
``pipelines.incidents.errors``) and its class name is the Step Functions ``Error``.

validate_request: the intake, in pipelines/incidents/intake.py.

fetch_initial(event) — "fetch initial data and create the base schema"
    event: the POST /invoke body, either as is or wrapped so retries reuse one run:
        {"since"?: ISO-8601, "until"?: ISO-8601, "statuses"?: [str], "service_ids"?: [str]}
        {"request": <that body>, "execution_id": "$$.Execution.Id"}
      Defaults: until = now, since = until - 24 h, all statuses, all services.
    returns: {"success": true, "run_id": int, "execution_id": str|null, "since": "…Z",
              "until": "…Z", "statuses": [str], "service_ids": [str],
              "expected_count": int|null, "migrations_applied": [int]}
    raises: InvalidInputError (message names the field: since, until, statuses, service_ids,
            body, or an unknown field), UpstreamAuthError (PagerDuty 401/403),
            RateLimitedError, UpstreamUnavailableError, UpstreamRejectedError,
            DatabaseUnavailableError, DatabaseAuthError, ConfigurationError.

fetch_complete(event) — "fetch the complete incident data and populate the database"
    event: fetch_initial's return value (run_id, since, until, statuses, service_ids needed).
    returns: that event plus {"success": true, "loaded_count": int, "pagerduty_requests": int,
             "windows": int}
    raises: as fetch_initial, plus InvalidInputError("run_id") for a missing/unknown run and
            DataIntegrityError for an incident without an id. A failure part-way leaves
            whole batches only (one transaction per LOAD_BATCH_SIZE incidents).

validate(event) — "validate the data in the database"
    event: fetch_complete's return value (run_id needed).
    returns: that event plus {"success": bool, "failed_rules": [str], "loaded_count": int,
             "expected_count": int|null, "rules": [{"rule", "passed", "offending_count",
             "sample_ids": [str] (at most 10), "detail"}]}; success is false when any rule
             failed. The full report (offending ids) is in the validation_results table.

handle_error(event) — the Catch / success:false target
    event: a failed step's input with the Catch result at "error" (ResultPath "$.error"):
        {..., "run_id"?: int, "execution_id"?: str, "error": {"Error": str, "Cause": str}}
      or a bare Catch result {"Error", "Cause"}, or a step output with "success": false.
    returns: {"error": str, "cause": str, "run_id": int|null, "run_marked_failed": bool}
      — feed "error"/"cause" to the Fail state. Never raises: an unreachable database is
      logged and reported as run_marked_failed false.

Environment (read at call time): DB_SECRET_ARN, DB_HOST, DB_PORT (5432), DB_NAME,
DB_SSLMODE (verify-full), DB_SSLROOTCERT (the bundled rds-ca-bundle.pem),
PAGERDUTY_TOKEN_SECRET_ARN (fetch_initial, fetch_complete), PAGERDUTY_API_BASE_URL
(https://api.pagerduty.com), LOAD_BATCH_SIZE (5000, fetch_complete).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.common.errors import InvalidInputError
from pipelines.common.logging import get_logger
from pipelines.incidents import config
from pipelines.incidents.failure import describe_failure
from pipelines.incidents.pagerduty import Filters, PagerDutyClient
from pipelines.incidents.records import rows_for_batch
from pipelines.incidents.request import RunRequest, coerce_body, parse_run_request, resolved_request
from pipelines.incidents.rules import evaluate
from pipelines.incidents.store import IncidentStore, open_store

logger = get_logger("incidents")

SAMPLE_IDS = 10


def _initial_body(event) -> tuple[object, str | None]:
    if isinstance(event, dict) and "execution_id" in event and set(event) <= {"request", "execution_id"}:
        execution_id = event["execution_id"]
        if not isinstance(execution_id, str) or not execution_id:
            raise InvalidInputError("execution_id", "must be a non-empty string")
        return event.get("request"), execution_id
    return event, None


def _run_id(event: dict) -> int:
    value = event.get("run_id")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInputError("run_id", "must be the positive integer fetch_initial returned")
    return value


def _client() -> PagerDutyClient:
    settings = config.pagerduty_settings()
    return PagerDutyClient(settings.base_url, config.pagerduty_token(settings))


def _filters(request: RunRequest) -> Filters:
    return Filters(statuses=request.statuses, service_ids=request.service_ids)


def _require_run(store: IncidentStore, run_id: int) -> None:
    if not store.run_exists(run_id):
        raise InvalidInputError("run_id", f"run {run_id} does not exist in the database")


@logger.inject_lambda_context(clear_state=True)
def fetch_initial(event, context):
    """Migrate the schema, record the run, and ask PagerDuty how many incidents the window holds."""
    body, execution_id = _initial_body(event)
    request = parse_run_request(body, now=datetime.now(UTC))
    client = _client()
    with open_store(config.database_params()) as store:
        applied = store.migrate()
        run_id = store.start_run(request, execution_id)
        logger.append_keys(run_id=run_id)
        expected = client.count(request.window, _filters(request))
        store.record_expected_count(run_id, expected)
    logger.info(
        "run started", extra={"window": str(request.window), "expected_count": expected, "migrations_applied": applied}
    )
    return {
        "success": True,
        "run_id": run_id,
        "execution_id": execution_id,
        **request.to_event(),
        "expected_count": expected,
        "migrations_applied": applied,
    }


@logger.inject_lambda_context(clear_state=True)
def fetch_complete(event, context):
    """Page through the window's incidents and upsert them, one transaction per batch."""
    event = coerce_body(event)
    run_id = _run_id(event)
    request = resolved_request(event)
    logger.append_keys(run_id=run_id)
    client = _client()
    batch_size = config.load_batch_size()
    with open_store(config.database_params()) as store:
        _require_run(store, run_id)
        batch: list[dict] = []
        for page in client.iter_pages(request.window, _filters(request)):
            batch.extend(page)
            if len(batch) >= batch_size:
                store.load_batch(run_id, *rows_for_batch(batch))
                batch = []
        store.load_batch(run_id, *rows_for_batch(batch))
        loaded = store.finish_load(run_id)
    logger.info(
        "incidents loaded",
        extra={"loaded_count": loaded, "requests": client.requests_made, "windows": client.windows_fetched},
    )
    return {
        **event,
        "success": True,
        "loaded_count": loaded,
        "pagerduty_requests": client.requests_made,
        "windows": client.windows_fetched,
    }


@logger.inject_lambda_context(clear_state=True)
def validate(event, context):
    """Run every validation rule over the run's rows, store the report, succeed only if all pass."""
    event = coerce_body(event)
    run_id = _run_id(event)
    logger.append_keys(run_id=run_id)
    with open_store(config.database_params()) as store:
        _require_run(store, run_id)
        snapshot = store.snapshot(run_id)
        results = evaluate(snapshot)
        store.save_report(run_id, results)
    failed = [r.rule for r in results if not r.passed]
    if failed:
        logger.warning("validation failed", extra={"failed_rules": failed})
    return {
        **event,
        "success": not failed,
        "failed_rules": failed,
        "loaded_count": len(snapshot.incidents),
        "expected_count": snapshot.expected_count,
        "rules": [
            {
                "rule": r.rule,
                "passed": r.passed,
                "offending_count": len(r.offending_ids),
                "sample_ids": r.offending_ids[:SAMPLE_IDS],
                "detail": r.detail,
            }
            for r in results
        ],
    }


@logger.inject_lambda_context(clear_state=True)
def handle_error(event, context):
    """Log why the execution failed, mark its run failed when the database is reachable."""
    failure = describe_failure(event)
    logger.error(
        "incidents execution failed",
        extra={
            "error": failure.error,
            "cause": failure.cause,
            "run_id": failure.run_id,
            "execution_id": failure.execution_id,
        },
    )
    marked = False
    if failure.run_id is not None or failure.execution_id is not None:
        try:
            with open_store(config.database_params()) as store:
                marked = store.mark_failed(
                    run_id=failure.run_id, execution_id=failure.execution_id, error=failure.error, cause=failure.cause
                )
        except Exception as exc:  # noqa: BLE001 - recording the failure must not itself fail the handler
            logger.warning("could not mark the run failed", extra={"reason": f"{type(exc).__name__}: {exc}"})
    return {"error": failure.error, "cause": failure.cause, "run_id": failure.run_id, "run_marked_failed": marked}
