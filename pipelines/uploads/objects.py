"""The S3 side of the uploads pipeline (boto3 behind one small class per bucket).

``UploadBucket`` opens an upload by version (or, unversioned, by ETag), writes the rejects and
quarantine objects, copies an object (multipart for big ones) and reads and writes spilled
contributions (``contributions/<hash>/<version>.json``, see ``layout``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError, DataIntegrityError, UpstreamUnavailableError
from pipelines.common.jsontext import utf8_json
from pipelines.uploads.contributions import Contribution
from pipelines.uploads.errors import UploadMissingError
from pipelines.uploads.items import contribution_from_json, contribution_json, contribution_key

_MISSING = {"NoSuchKey", "NoSuchVersion", "404"}
_REFUSED = {"AccessDenied", "NoSuchBucket", "AllAccessDisabled"}


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class Superseded(Exception):
    """The object no longer has the ETag the event named (an unversioned bucket, overwritten since)."""


class UploadBucket:
    """One bucket's uploads and the pipeline's own objects beside them."""

    def __init__(self, name: str):
        self.name = name

    @contextlib.contextmanager
    def _errors(self, operation: str, key: str, target: str = "") -> Iterator[None]:
        """S3's failures as the pipeline's: a missing object or version → UploadMissingError; an ETag
        that moved → Superseded; a refusal → ConfigurationError; anything else → retryable."""
        where = f"S3 {operation} s3://{self.name}/{key}"
        try:
            yield
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING:
                raise UploadMissingError(f"{where}: no such object or version") from None
            if code in ("PreconditionFailed", "412"):
                raise Superseded(key) from None
            if code in _REFUSED:
                raise ConfigurationError(f"{where} refused ({code}): check the function's grants") from None
            raise UpstreamUnavailableError(f"{where}{target} failed ({code})") from None
        except BotoCoreError as exc:
            raise UpstreamUnavailableError(f"{where} failed: {type(exc).__name__}") from None

    def _call(self, operation: str, key: str, **kwargs) -> Any:
        with self._errors(operation, key):
            return getattr(client("s3"), operation)(Bucket=self.name, Key=key, **kwargs)

    def open(self, key: str, version_id: str | None, etag: str) -> tuple[int, BinaryIO]:
        """``(size, streaming body)`` of that exact version (or of the object while it has ``etag``)."""
        selector = {"VersionId": version_id} if version_id else {"IfMatch": f'"{etag}"'}
        response = self._call("get_object", key, **selector)
        return response["ContentLength"], response["Body"]

    def get_bytes(self, key: str) -> bytes:
        return self._call("get_object", key)["Body"].read()

    def put_bytes(self, key: str, body: bytes | BinaryIO, content_type: str) -> None:
        self._call("put_object", key, Body=body, ContentType=content_type)

    def put_json(self, key: str, document: Any) -> None:
        self.put_bytes(key, utf8_json(document), "application/json")

    def delete(self, key: str) -> None:
        self._call("delete_object", key)

    def copy_from(self, source_key: str, version_id: str | None, key: str) -> None:
        """Copy ``source_key`` (that version) to ``key`` in this bucket; multipart past 5 GB."""
        source = {"Bucket": self.name, "Key": source_key, **({"VersionId": version_id} if version_id else {})}
        with self._errors("copy", source_key, f" → {key}"):
            client("s3").copy(source, self.name, key)


class ContributionArchive:
    """Spilled contributions in S3: written before the table names them, read to take them back out."""

    def __init__(self, bucket: UploadBucket):
        self.bucket = bucket

    def write(self, digest: str, contribution: Contribution) -> str:
        key = contribution_key(digest, contribution.version)
        self.bucket.put_json(key, contribution_json(contribution))
        return key

    def read(self, key: str) -> Contribution:
        try:
            data = json.loads(self.bucket.get_bytes(key))
        except UploadMissingError:
            raise DataIntegrityError(f"the table names contribution {key}, but it is not in S3") from None
        return contribution_from_json(data)
