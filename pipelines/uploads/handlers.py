"""Lambda entry point of the uploads pipeline (thin: check, stream, call pure logic, write via adapters).

process_upload      (ProcessUpload)
    event  {"bucket", "key", "versionId"?, "etag", "size", "sequencer"?}: the intake's answer
           (``intake.validate_upload``), see ``request``
    return {"bucket", "key", "version", "outcome": "new"|"replaced"|"unchanged"|"stale"|"superseded",
            "records", "rejected", "storeDays", "writes", "rejectsKey"?}
    env    SUMMARY_TABLE_NAME; MAX_FILE_MB (256); MAX_REJECT_RATIO (0.01)
    reads  s3://bucket/<key> (that version), s3://bucket/contributions/…
    writes s3://bucket/rejects/<key>.ndjson (one {"position", "reason"} per rejected record; a
           stale one is deleted when the version has no reject), s3://bucket/contributions/<hash>/…,
           the summaries table (``store``); on a bad file only s3://bucket/quarantine/<key> (a
           copy) and s3://bucket/quarantine/<key>.error.json
           ({reason, message, positions (first 100), positionKind, rejects (first 100), …})
    errors MalformedUploadError, EmptyUploadError, UploadTooLargeError, TooManyRejectsError
           (quarantined, nothing loaded, not retried), UploadMissingError, CurrencyConflictError,
           InvalidInputError, ConfigurationError, SummaryRequestRejectedError (DynamoDB refused a
           request as invalid), TooManyContributorsError (a store-day's summary would pass 400 KB),
           ProductPartFullError, ContributionConflictError*, UpstreamUnavailableError*  (* retryable)

The object is read as a stream (``parse`` reads 64 KiB at a time); rejects are spooled to a
temporary file, so memory holds one chunk, one record and the store-day summaries. A version
whose ETag no longer matches (unversioned bucket, overwritten since) is ``superseded``: its
successor's own event loads the newer content.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any, BinaryIO

from pipelines.common.errors import ConfigurationError
from pipelines.common.logging import get_logger
from pipelines.common.settings import int_env, optional_env, require_env
from pipelines.uploads import aggregate, parse
from pipelines.uploads.contributions import Contribution, Source
from pipelines.uploads.errors import MalformedUploadError, TooManyRejectsError, UploadError, UploadTooLargeError
from pipelines.uploads.format import DEFAULT_MAX_FILE_MB, is_ndjson
from pipelines.uploads.layout import QUARANTINE_PREFIX, REJECTS_PREFIX
from pipelines.uploads.objects import ContributionArchive, Superseded, UploadBucket
from pipelines.uploads.request import UploadRequest, parse_request
from pipelines.uploads.store import SummaryTable, store_contribution

logger = get_logger("uploads")

MIB = 1024 * 1024
DEFAULT_MAX_REJECT_RATIO = 0.01
KEEP_POSITIONS = 100
_SPOOL_BYTES = 1 << 20


def rejects_key(key: str) -> str:
    return f"{REJECTS_PREFIX}{key}.ndjson"


def quarantine_key(key: str) -> str:
    return f"{QUARANTINE_PREFIX}{key}"


def _ratio_env(name: str, default: float) -> float:
    raw = optional_env(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be a number, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ConfigurationError(f"environment variable {name} must be within 0..1, got {raw!r}")
    return value


class _Limited:
    """A stream that refuses to yield more than ``limit`` bytes (the size S3 announced may not hold)."""

    def __init__(self, body: BinaryIO, limit: int):
        self.body, self.limit, self.read_bytes = body, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self.body.read(size)
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise UploadTooLargeError(f"the object is over the {self.limit // MIB} MB limit")
        return data


def _positions(error: UploadError, request: UploadRequest, rejects: list) -> dict[str, Any]:
    if isinstance(error, MalformedUploadError):
        kind = "line" if error.line is not None else "byte"
        at = error.line if error.line is not None else error.byte
        return {"positionKind": kind, "positions": [] if at is None else [at]}
    return {
        "positionKind": "line" if is_ndjson(request.key) else "index",
        "positions": [p for p, _ in rejects[:KEEP_POSITIONS]],
        "rejects": [{"position": p, "reason": r} for p, r in rejects[:KEEP_POSITIONS]],
    }


def _quarantine(bucket: UploadBucket, request: UploadRequest, error: UploadError, details: dict) -> str:
    target = quarantine_key(request.key)
    bucket.copy_from(request.key, request.version_id, target)
    document = {
        "reason": type(error).__name__,
        "message": str(error),
        "bucket": request.bucket,
        "key": request.key,
        "version": request.version,
        **details,
    }
    bucket.put_json(f"{target}.error.json", document)
    return target


def _extract(bucket: UploadBucket, request: UploadRequest, max_bytes: int, spool: BinaryIO) -> aggregate.Outcome:
    if request.size > max_bytes:
        raise UploadTooLargeError(f"the object is {request.size:,} bytes, over the {max_bytes // MIB} MB limit")
    size, body = bucket.open(request.key, request.version_id, request.etag)
    try:
        if size > max_bytes:
            raise UploadTooLargeError(f"the object is {size:,} bytes, over the {max_bytes // MIB} MB limit")

        def spill(position: Any, reason: str) -> None:
            spool.write(json.dumps({"position": position, "reason": reason}).encode("utf-8") + b"\n")

        return aggregate.run(parse.parse(_Limited(body, max_bytes), request.key), KEEP_POSITIONS, spill)
    finally:
        body.close()


def _summary(request: UploadRequest, outcome: str, **counts: Any) -> dict[str, Any]:
    return {"bucket": request.bucket, "key": request.key, "version": request.version, "outcome": outcome, **counts}


@logger.inject_lambda_context(clear_state=True)
def process_upload(event, context):
    """Load one uploaded object version into the store-day summaries, or quarantine it and fail."""
    request = parse_request(event)
    table = SummaryTable(require_env("SUMMARY_TABLE_NAME"))
    max_bytes = int_env("MAX_FILE_MB", DEFAULT_MAX_FILE_MB) * MIB
    max_ratio = _ratio_env("MAX_REJECT_RATIO", DEFAULT_MAX_REJECT_RATIO)
    bucket = UploadBucket(request.bucket)
    logger.append_keys(bucket=request.bucket, key=request.key, version=request.version)
    with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as spool:
        outcome = None
        try:
            outcome = _extract(bucket, request, max_bytes, spool)
            if outcome.reject_ratio > max_ratio:
                raise TooManyRejectsError(
                    f"{outcome.rejected:,} of {outcome.records:,} records rejected "
                    f"({outcome.reject_ratio:.2%}), more than the {max_ratio:.2%} allowed"
                )
        except Superseded:
            logger.info("the object was overwritten since this event: its own event loads it")
            return _summary(request, "superseded", records=0, rejected=0, storeDays=0, writes=0)
        except UploadError as error:
            details = _positions(error, request, outcome.rejects if outcome else [])
            if outcome is not None:
                details |= {"records": outcome.records, "rejected": outcome.rejected, "maxRejectRatio": max_ratio}
            target = _quarantine(bucket, request, error, details | {"maxFileBytes": max_bytes})
            logger.error("upload quarantined", extra={"reason": type(error).__name__, "quarantineKey": target})
            raise
        source = Source(request.bucket, request.key)
        contribution = Contribution(source, request.version, outcome.summaries, request.sequencer)
        stored = store_contribution(contribution, table, ContributionArchive(bucket))
        counts = {"records": outcome.records, "rejected": outcome.rejected}
        counts |= {"storeDays": stored.store_days, "writes": stored.writes}
        if outcome.rejected and stored.outcome in ("new", "replaced", "unchanged"):
            spool.seek(0)
            bucket.put_bytes(rejects_key(request.key), spool, "application/x-ndjson")
            counts["rejectsKey"] = rejects_key(request.key)
        elif stored.outcome == "replaced":
            bucket.delete(rejects_key(request.key))  # the corrected version has no reject left
    logger.info("upload processed", extra={"outcome": stored.outcome, **counts})
    return _summary(request, stored.outcome, **counts)
