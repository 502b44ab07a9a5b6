"""boto3-backed adapters the radar handlers pass to the pure modules (S3 objects, KMS data keys)."""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError, DataIntegrityError, UpstreamUnavailableError
from pipelines.common.jsontext import utf8_json

# KMS answers these when the key cannot be used at all: retrying will not help.
_KMS_CONFIGURATION_ERRORS = {
    "AccessDeniedException",
    "DisabledException",
    "KMSInvalidStateException",
    "NotFoundException",
    "InvalidKeyUsageException",
}
_KMS_INTEGRITY_ERRORS = {"InvalidCiphertextException", "IncorrectKeyException"}


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class KmsDataKeys:
    """envelope.DataKeys over AWS KMS: GenerateDataKey and Decrypt, both with the context."""

    def __init__(self, key_id: str):
        self._key_id = key_id

    def _call(self, operation: str, **kwargs) -> dict:
        try:
            return getattr(client("kms"), operation)(KeyId=self._key_id, **kwargs)
        except ClientError as exc:
            code = _code(exc)
            if code in _KMS_INTEGRITY_ERRORS:
                raise DataIntegrityError(
                    "KMS refused the data key: the payload was altered or sealed for another execution"
                ) from None
            if code in _KMS_CONFIGURATION_ERRORS:
                raise ConfigurationError(
                    f"KMS key {self._key_id} cannot be used ({code}); check KMS_KEY_ID and grants"
                ) from None
            raise UpstreamUnavailableError(f"KMS {operation} failed ({code})") from None
        except BotoCoreError as exc:
            raise UpstreamUnavailableError(f"KMS {operation} failed: {type(exc).__name__}") from None

    def generate_data_key(self, context: Mapping[str, str]) -> tuple[bytes, bytes]:
        """A fresh AES-256 data key under the pipeline's key and ``context``."""
        response = self._call("generate_data_key", KeySpec="AES_256", EncryptionContext=dict(context))
        return response["Plaintext"], response["CiphertextBlob"]

    def decrypt_data_key(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """The data key, if ``context`` is the one it was generated with."""
        return self._call("decrypt", CiphertextBlob=ciphertext, EncryptionContext=dict(context))["Plaintext"]


class MissingObject(Exception):
    """The requested S3 object does not exist."""


class Bucket:
    """Reads and writes whole objects in one bucket."""

    def __init__(self, name: str):
        self.name = name

    def get_bytes(self, key: str) -> bytes:
        """The object's body; MissingObject if there is none at ``key``."""
        try:
            return client("s3").get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise MissingObject(key) from None
            if _code(exc) == "AccessDenied":
                # Without s3:ListBucket, S3 answers a missing key with AccessDenied, not NoSuchKey.
                raise ConfigurationError(
                    f"S3 GetObject s3://{self.name}/{key} refused: the object is missing or not readable"
                ) from None
            raise UpstreamUnavailableError(f"S3 GetObject s3://{self.name}/{key} failed ({_code(exc)})") from None
        except BotoCoreError as exc:
            raise UpstreamUnavailableError(
                f"S3 GetObject s3://{self.name}/{key} failed: {type(exc).__name__}"
            ) from None

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        """Write (or overwrite) the object at ``key``."""
        try:
            client("s3").put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)
        except ClientError as exc:
            code = _code(exc)
            if code in ("AccessDenied", "NoSuchBucket"):
                raise ConfigurationError(f"S3 PutObject s3://{self.name}/{key} refused ({code})") from None
            raise UpstreamUnavailableError(f"S3 PutObject s3://{self.name}/{key} failed ({code})") from None
        except BotoCoreError as exc:
            raise UpstreamUnavailableError(
                f"S3 PutObject s3://{self.name}/{key} failed: {type(exc).__name__}"
            ) from None

    def put_json(self, key: str, document: object) -> None:
        """Write ``document`` as UTF-8 JSON."""
        self.put_bytes(key, utf8_json(document), "application/json")
