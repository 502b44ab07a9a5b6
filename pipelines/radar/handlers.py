"""Lambda entry points of the radar pipeline (thin: validate, call pure logic, do I/O via adapters).

Every event is a JSON object; a missing or malformed field raises InvalidInputError naming it.
``timestamp`` is the run's scheduled time (else $$.Execution.StartTime), any ISO-8601 form with a
zone; handlers normalise it to ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds) and return it so.

validate_input      (ValidateInput): the intake, in pipelines/radar/intake.py

provider_endpoint   (ProviderEndpoint)
    event  {"execution": "$$.Execution.Id", "timestamp": str}
    return {"execution", "timestamp", "source": "provider"|"s3",
            "envelope": {"version": 1, "algorithm": "AES-256-GCM", "encryptedDataKey", "nonce",
                         "ciphertext", "context": {"pipeline", "execution"}}}
    env    PIPELINE_NAME, KMS_KEY_ID; PROVIDER_URL (+ PROVIDER_TOKEN_SECRET_ARN) or else
           BUCKET_NAME + REGISTRY_KEY (default config/orgs.json); PROVIDER_TIMEOUT_SECONDS (10)
    errors ConfigurationError, UpstreamAuthError, RegistryTooLargeError,
           UpstreamUnavailableError*, RateLimitedError*                       (* retryable)

decrypt_registry    (DecryptionHandler)
    event  {"execution", "timestamp", "envelope"}
    return {"execution", "timestamp", "registry": {"organizations": [record]}}, each record reduced
           to the org schema (orgId, name, active, connectorParams{domain, location, asn}); a
           record that is not an object becomes null (extract_orgs reports it)
    env    PIPELINE_NAME, KMS_KEY_ID
    errors DataIntegrityError (altered payload, another execution's or pipeline's context),
           InvalidInputError (envelope field missing, registry not JSON, no organizations list)

extract_orgs        (ExtractOrgs)
    event  {"timestamp", "registry": {"organizations": [...]}}
    return {"timestamp", "orgs": [{"orgId", "name"?, "connectorParams"}],
            "rejected": [{"index", "orgId"|null, "reason"}], "counts": {"received", "accepted", "rejected"}}
    env    RADAR_QUERIES (JSON list of ranking, device_type, asn)
    errors NoValidOrganizationsError (message carries the rejection report)

fetch_radar         (CloudflareFetchHandler, one Map iteration)
    event  {"timestamp", "org": {"orgId", "connectorParams", ...}}
    return {"orgId", "timestamp", "status": "ok"|"not_found", "stagingKey",
            "queries": {name: "ok"|"not_found"}}       (never the data; not_found = every query 404)
    env    BUCKET_NAME, RADAR_TOKEN_SECRET_ARN, RADAR_QUERIES, RADAR_API_BASE_URL
           (default https://api.cloudflare.com/client/v4), STAGING_PREFIX (staging/),
           RADAR_TIMEOUT_SECONDS (8), RADAR_MAX_RETRIES (2), RADAR_MAX_RETRY_AFTER_SECONDS (5);
           worst case ≈ queries × ((retries + 1) × timeout + retries × retry-after) = 102 s with
           the defaults and three queries: keep the function's timeout above that
    errors UpstreamAuthError, RadarQueryError, InvalidInputError,
           RateLimitedError*, UpstreamUnavailableError*
    writes s3://BUCKET/<STAGING_PREFIX><timestamp>/<orgId>/radar.json

prepare_files       (PrepareDataToFiles)
    event  {"timestamp", "org": {"orgId", ...}, "fetched": <fetch_radar result>}
    return {"orgId", "timestamp", "status": "written",
            "files": {"json": "<orgId>/<timestamp>/data.json", "csv": "<orgId>/<timestamp>/data.csv"}}
           or {"orgId", "timestamp", "status": "not_found", "files": {}} when nothing was found
    env    BUCKET_NAME, STAGING_PREFIX
    errors InvalidInputError (stagingKey not this org's and run's, nothing staged, foreign staged data)

summarize           (Summary, after the Map)
    event  {"timestamp", "results": [item], "rejected"?: [...]}; an item is a prepare_files result,
           {"orgId", "status": "not_found"}, or a failure {"orgId", "status": "failed",
           "error": name | {"Error", "Cause"}, "cause"?}
    return {"timestamp", "counts": {"written", "notFound", "failed", "rejected"},
            "written": [orgId], "notFound": [orgId], "failed": []}
    errors OrganizationsFailedError naming every failed org (raised after all others are written)
"""

from __future__ import annotations

import functools
import json

from pipelines.common.errors import ConfigurationError, InvalidInputError
from pipelines.common.logging import get_logger
from pipelines.common.secrets import read_secret
from pipelines.common.settings import int_env, optional_env, require_env
from pipelines.common.timestamps import normalise_timestamp
from pipelines.radar import envelope, files, orgs, queries, summary
from pipelines.radar.adapters import Bucket, KmsDataKeys, MissingObject
from pipelines.radar.cloudflare import DEFAULT_BASE_URL, NOT_FOUND, RadarClient
from pipelines.radar.errors import NoValidOrganizationsError, RegistryTooLargeError
from pipelines.radar.provider import fetch_registry
from pipelines.radar.transport import api_session, require_secure_url

logger = get_logger("radar")

DEFAULT_REGISTRY_KEY = "config/orgs.json"
DEFAULT_STAGING_PREFIX = "staging/"
# Step Functions refuses state payloads over 256 KB; leave room for the other fields.
MAX_ENVELOPE_BYTES = 240_000


def _event(event: object) -> dict:
    if not isinstance(event, dict):
        raise InvalidInputError("event", f"must be a JSON object, got {type(event).__name__}")
    return event


def _text(event: dict, field: str) -> str:
    value = event.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(field, "must be a non-empty string")
    return value


def _query_names() -> tuple[str, ...]:
    return queries.parse_query_names(require_env("RADAR_QUERIES"))


def _context(execution_id: str) -> dict[str, str]:
    return envelope.encryption_context(require_env("PIPELINE_NAME"), execution_id)


@functools.lru_cache(maxsize=8)
def _session(timeout: float, total: int, max_retry_after: float):
    # One pooled session per setting combination, kept across invocations of a warm container.
    return api_session(total=total, timeout=(min(5.0, timeout), timeout), max_retry_after=max_retry_after)


def _read_registry() -> tuple[bytes, str]:
    url = optional_env("PROVIDER_URL")
    if url:
        url = require_secure_url(url, "PROVIDER_URL")
        token = read_secret(require_env("PROVIDER_TOKEN_SECRET_ARN"))
        timeout = int_env("PROVIDER_TIMEOUT_SECONDS", 10)
        return fetch_registry(_session(timeout, 2, 5), url, token), "provider"
    bucket = Bucket(require_env("BUCKET_NAME"))
    key = optional_env("REGISTRY_KEY", DEFAULT_REGISTRY_KEY)
    try:
        return bucket.get_bytes(key), "s3"
    except MissingObject:
        raise ConfigurationError(f"no PROVIDER_URL and no registry at s3://{bucket.name}/{key}") from None


@logger.inject_lambda_context
def provider_endpoint(event, context):
    """Read the org registry from the provider (or S3) and return it envelope-encrypted."""
    event = _event(event)
    execution_id = _text(event, "execution")
    timestamp = normalise_timestamp(event.get("timestamp"))
    keys = KmsDataKeys(require_env("KMS_KEY_ID"))
    raw, source = _read_registry()
    sealed = envelope.seal(raw, _context(execution_id), keys)
    size = len(json.dumps(sealed))
    if size > MAX_ENVELOPE_BYTES:
        raise RegistryTooLargeError(f"the sealed registry is {size} bytes; Step Functions payloads stop at 256 KB")
    logger.info("registry read and sealed", extra={"source": source, "bytes": len(raw)})
    return {"execution": execution_id, "timestamp": timestamp, "source": source, "envelope": sealed}


@logger.inject_lambda_context
def decrypt_registry(event, context):
    """Open the sealed registry, check its structure, and keep only org-schema fields."""
    event = _event(event)
    execution_id = _text(event, "execution")
    timestamp = normalise_timestamp(event.get("timestamp"))
    keys = KmsDataKeys(require_env("KMS_KEY_ID"))
    plaintext = envelope.open_envelope(event.get("envelope"), _context(execution_id), keys, where="envelope")
    try:
        registry = json.loads(plaintext)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInputError("registry", "is not a JSON document") from None
    records = [orgs.project_record(r) for r in orgs.registry_organizations(registry)]
    logger.info("registry decrypted", extra={"records": len(records)})
    return {"execution": execution_id, "timestamp": timestamp, "registry": {"organizations": records}}


@logger.inject_lambda_context
def extract_orgs(event, context):
    """Select active, valid, unique organizations; report every other record with its reason."""
    event = _event(event)
    timestamp = normalise_timestamp(event.get("timestamp"))
    records = orgs.registry_organizations(event.get("registry"))
    selection = orgs.select_organizations(records, queries.required_params(_query_names()))
    if selection.rejected:
        logger.warning("registry records rejected", extra={"rejected": selection.rejected})
    if not selection.organizations:
        report = selection.report() or "the list is empty"
        raise NoValidOrganizationsError(f"no valid active organization among {len(records)} records: {report}")
    return {
        "timestamp": timestamp,
        "orgs": selection.organizations,
        "rejected": selection.rejected,
        "counts": {
            "received": len(records),
            "accepted": len(selection.organizations),
            "rejected": len(selection.rejected),
        },
    }


@logger.inject_lambda_context
def fetch_radar(event, context):
    """Run the configured Radar queries for one organization and stage the responses in S3."""
    event = _event(event)
    timestamp = normalise_timestamp(event.get("timestamp"))
    names = _query_names()
    org = orgs.check_org(event.get("org"), queries.required_params(names), where="org")
    bucket = Bucket(require_env("BUCKET_NAME"))
    base_url = require_secure_url(optional_env("RADAR_API_BASE_URL", DEFAULT_BASE_URL), "RADAR_API_BASE_URL")
    session = _session(
        int_env("RADAR_TIMEOUT_SECONDS", 8),
        int_env("RADAR_MAX_RETRIES", 2),
        int_env("RADAR_MAX_RETRY_AFTER_SECONDS", 5),
    )
    client = RadarClient(session, base_url, read_secret(require_env("RADAR_TOKEN_SECRET_ARN")))
    results = client.run_all(names, org["connectorParams"])
    staged = files.staged_document(org, timestamp, results)
    key = files.staging_key(optional_env("STAGING_PREFIX", DEFAULT_STAGING_PREFIX), timestamp, org["orgId"])
    bucket.put_json(key, staged)
    statuses = {name: result.status for name, result in results.items()}
    logger.info("radar data staged", extra={"orgId": org["orgId"], "queries": statuses})
    return {
        "orgId": org["orgId"],
        "timestamp": timestamp,
        "status": staged["status"],
        "stagingKey": key,
        "queries": statuses,
    }


@logger.inject_lambda_context
def prepare_files(event, context):
    """Write the organization's data.json and data.csv from its staged responses."""
    event = _event(event)
    timestamp = normalise_timestamp(event.get("timestamp"))
    org = event.get("org")
    org_id = orgs.check_org_id(org.get("orgId") if isinstance(org, dict) else None, "org.orgId")
    fetched = event.get("fetched")
    if not isinstance(fetched, dict):
        raise InvalidInputError("fetched", "must be the fetch_radar result object")
    prefix = optional_env("STAGING_PREFIX", DEFAULT_STAGING_PREFIX)
    expected_key = files.staging_key(prefix, timestamp, org_id)
    if fetched.get("stagingKey") != expected_key:
        raise InvalidInputError("fetched.stagingKey", f"must be {expected_key!r} for this org and run")
    bucket = Bucket(require_env("BUCKET_NAME"))
    try:
        staged = json.loads(bucket.get_bytes(expected_key))
    except MissingObject:
        raise InvalidInputError("fetched.stagingKey", f"nothing is staged at {expected_key}") from None
    document = files.data_document(staged, org_id, timestamp)
    if staged.get("status") == NOT_FOUND:
        return {"orgId": org_id, "timestamp": timestamp, "status": NOT_FOUND, "files": {}}
    keys = files.output_keys(org_id, timestamp)
    bodies = files.render_files(document)
    bucket.put_bytes(keys["json"], bodies["json"], "application/json")
    bucket.put_bytes(keys["csv"], bodies["csv"], "text/csv; charset=utf-8")
    logger.info("files written", extra={"orgId": org_id, "files": keys})
    return {"orgId": org_id, "timestamp": timestamp, "status": files.WRITTEN, "files": keys}


@logger.inject_lambda_context
def summarize(event, context):
    """Count the run's outcomes; fail, naming them, if any organization failed."""
    event = _event(event)
    timestamp = normalise_timestamp(event.get("timestamp"))
    result = summary.summarize(event.get("results"), event.get("rejected"))
    logger.info("run summary", extra={"counts": result["counts"]})
    return {"timestamp": timestamp, **result}
