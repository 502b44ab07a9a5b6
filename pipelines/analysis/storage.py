"""The S3 side of daily-analysis: JSON and NDJSON objects by key, S3's failures as the pipeline's.

A missing object is ``None`` (the bucket grants ``s3:ListBucket``, so S3 answers 404, not 403);
a refusal is a ConfigurationError (the grants are wrong, a retry cannot help); an object that is
not the JSON it should be is a DataIntegrityError (a retry would read the same bytes); anything
else is UpstreamUnavailableError, which the state machine retries.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError, DataIntegrityError, UpstreamUnavailableError, bounded_message
from pipelines.common.jsontext import utf8_json

_MISSING = {"NoSuchKey", "404"}
_REFUSED = {"AccessDenied", "NoSuchBucket", "AllAccessDisabled", "403"}
_SPOOL_BYTES = 1 << 20


class ObjectMissing(Exception):
    """The object does not exist."""


class AnalysisBucket:
    """The pipeline's bucket."""

    def __init__(self, name: str):
        self.name = name

    @contextlib.contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        where = f"S3 {operation} s3://{self.name}/{key}"
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING:
                raise ObjectMissing(key) from None
            if code in _REFUSED:
                raise ConfigurationError(f"{where} refused ({code}): check the function's grants") from None
            raise UpstreamUnavailableError(f"{where} failed ({code})") from None
        except BotoCoreError as exc:
            raise UpstreamUnavailableError(f"{where} failed: {type(exc).__name__}") from None

    def _call(self, operation: str, key: str, **kwargs) -> Any:
        with self._errors(operation, key):
            return getattr(client("s3"), operation)(Bucket=self.name, Key=key, **kwargs)

    def get_json(self, key: str) -> Any | None:
        """The object parsed as JSON, or None if there is none."""
        try:
            body = self._call("get_object", key)["Body"]
            with self._errors("get_object", key):
                data = body.read()
        except ObjectMissing:
            return None
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem = bounded_message(str(exc), 120)
            raise DataIntegrityError(f"s3://{self.name}/{key} is not JSON ({problem})") from None

    def iter_lines(self, key: str) -> Iterator[dict[str, Any]]:
        """The NDJSON object's records, read as a stream (one line in memory at a time)."""
        body = self._call("get_object", key)["Body"]
        with self._errors("get_object", key):
            for line in body.iter_lines():
                if line:
                    yield json.loads(line)

    def put_json(self, key: str, document: Any) -> None:
        self._call("put_object", key, Body=utf8_json(document), ContentType="application/json")

    def put_text(self, key: str, text: str) -> None:
        self._call("put_object", key, Body=text.encode("utf-8"), ContentType="text/plain; charset=utf-8")

    def put_lines(self, key: str, records: Iterable[dict[str, Any]]) -> int:
        """Write ``records`` as NDJSON (spooled to a temporary file past 1 MiB); how many were written."""
        count = 0
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            for record in records:
                spool.write(utf8_json(record) + b"\n")
                count += 1
            spool.seek(0)
            self._call("put_object", key, Body=spool, ContentType="application/x-ndjson")
        return count

    def keys(self, prefix: str, start_after: str = "") -> list[str]:
        """Every key under ``prefix`` after ``start_after`` (paginated)."""
        found: list[str] = []
        with self._errors("list_objects_v2", prefix):
            pages = (
                client("s3")
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.name, Prefix=prefix, StartAfter=start_after or prefix)
            )
            for page in pages:
                found += [item["Key"] for item in page.get("Contents", [])]
        return found
