"""Envelope encryption: a KMS data key per payload, AES-256-GCM, context bound on both layers.

The encryption context (pipeline + execution) goes to KMS as EncryptionContext *and* into GCM
as associated data, so a payload replayed into another execution, or altered in any byte,
fails to open instead of decrypting to something plausible.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines.common.errors import DataIntegrityError, InvalidInputError

VERSION = 1
ALGORITHM = "AES-256-GCM"
_FIELDS = ("version", "algorithm", "encryptedDataKey", "nonce", "ciphertext", "context")


class DataKeys(Protocol):
    """What the envelope needs from KMS (the handler passes a boto3-backed adapter)."""

    def generate_data_key(self, context: Mapping[str, str]) -> tuple[bytes, bytes]:
        """A fresh 256-bit key: ``(plaintext, ciphertext)`` under ``context``."""

    def decrypt_data_key(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """The plaintext key; DataIntegrityError if ``context`` is not the one it was made with."""


def encryption_context(pipeline: str, execution_id: str) -> dict[str, str]:
    """The context that ties a payload to one execution of one pipeline."""
    return {"pipeline": pipeline, "execution": execution_id}


def _aad(context: Mapping[str, str]) -> bytes:
    # Canonical form, so the same context always authenticates the same bytes.
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(plaintext: bytes, context: Mapping[str, str], keys: DataKeys) -> dict:
    """``plaintext`` encrypted under a new data key; a JSON-serialisable envelope."""
    data_key, encrypted_key = keys.generate_data_key(context)
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _aad(context))
    return {
        "version": VERSION,
        "algorithm": ALGORITHM,
        "encryptedDataKey": _b64(encrypted_key),
        "nonce": _b64(nonce),
        "ciphertext": _b64(ciphertext),
        "context": dict(context),
    }


def _unb64(envelope: dict, name: str, where: str) -> bytes:
    try:
        return base64.b64decode(envelope[name], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise DataIntegrityError(f"{where}.{name} is not valid base64; the payload was altered") from None


def open_envelope(envelope: object, context: Mapping[str, str], keys: DataKeys, where: str = "registry") -> bytes:
    """The plaintext of ``envelope`` if it was sealed under ``context`` and is unaltered.

    A missing field is an InvalidInputError naming it; anything that fails authentication,
    including a context from another execution, is a DataIntegrityError.
    """
    if not isinstance(envelope, dict):
        raise InvalidInputError(where, "must be an encrypted envelope object")
    for name in _FIELDS:
        if name not in envelope:
            raise InvalidInputError(f"{where}.{name}", "is missing")
    if envelope["version"] != VERSION or envelope["algorithm"] != ALGORITHM:
        raise DataIntegrityError(
            f"{where} uses version {envelope['version']!r} / {envelope['algorithm']!r}; "
            f"only version {VERSION} {ALGORITHM} is accepted"
        )
    if envelope["context"] != dict(context):
        raise DataIntegrityError(
            f"{where} was sealed for {envelope['context']!r}, not for this execution ({dict(context)!r})"
        )
    encrypted_key = _unb64(envelope, "encryptedDataKey", where)
    nonce = _unb64(envelope, "nonce", where)
    ciphertext = _unb64(envelope, "ciphertext", where)
    if len(nonce) != 12:
        raise DataIntegrityError(f"{where}.nonce has {len(nonce)} bytes, expected 12; the payload was altered")
    data_key = keys.decrypt_data_key(encrypted_key, context)
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext, _aad(context))
    except (InvalidTag, ValueError):
        raise DataIntegrityError(f"{where} failed authentication: it was altered or sealed under another key") from None
