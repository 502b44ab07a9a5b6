"""Envelope encryption: round trip, and every kind of tampering or replay is a DataIntegrityError."""

from __future__ import annotations

import base64
import json
import os

import pytest

from pipelines.common.errors import DataIntegrityError, InvalidInputError
from pipelines.radar.envelope import encryption_context, open_envelope, seal

PLAINTEXT = json.dumps({"organizations": [{"orgId": "org-secret-name", "billing": "IBAN DE00"}]}).encode()
CONTEXT = encryption_context("radar", "arn:aws:states:eu-west-2:1:execution:radar:run-1")


class FakeKms:
    """Data keys wrapped with a per-instance master secret; Decrypt insists on the same context."""

    def __init__(self, check_context: bool = True):
        self.check_context = check_context
        self._issued: dict[bytes, tuple[bytes, dict]] = {}

    def generate_data_key(self, context):
        plaintext, ciphertext = os.urandom(32), os.urandom(48)
        self._issued[ciphertext] = (plaintext, dict(context))
        return plaintext, ciphertext

    def decrypt_data_key(self, ciphertext, context):
        if ciphertext not in self._issued:
            raise DataIntegrityError("unknown data key")
        plaintext, issued_context = self._issued[ciphertext]
        if self.check_context and issued_context != dict(context):
            raise DataIntegrityError("context mismatch")
        return plaintext


def _flip(envelope: dict, field: str) -> dict:
    raw = bytearray(base64.b64decode(envelope[field]))
    raw[len(raw) // 2] ^= 0x01
    return {**envelope, field: base64.b64encode(bytes(raw)).decode()}


def test_round_trip_returns_the_plaintext_and_the_envelope_reveals_none_of_it():
    kms = FakeKms()
    envelope = seal(PLAINTEXT, CONTEXT, kms)
    assert open_envelope(envelope, CONTEXT, kms) == PLAINTEXT
    serialized = json.dumps(envelope)
    assert "org-secret-name" not in serialized and "IBAN" not in serialized
    assert envelope["context"] == CONTEXT and envelope["algorithm"] == "AES-256-GCM"


def test_each_seal_uses_a_fresh_nonce_and_data_key():
    kms = FakeKms()
    first, second = seal(PLAINTEXT, CONTEXT, kms), seal(PLAINTEXT, CONTEXT, kms)
    assert first["nonce"] != second["nonce"]
    assert first["encryptedDataKey"] != second["encryptedDataKey"]
    assert first["ciphertext"] != second["ciphertext"]


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "encryptedDataKey"])
def test_a_flipped_bit_anywhere_is_rejected_as_tampering(field):
    kms = FakeKms()
    envelope = _flip(seal(PLAINTEXT, CONTEXT, kms), field)
    with pytest.raises(DataIntegrityError):
        open_envelope(envelope, CONTEXT, kms)


def test_an_envelope_from_another_execution_is_rejected_naming_both_contexts():
    kms = FakeKms()
    other = encryption_context("radar", "arn:aws:states:eu-west-2:1:execution:radar:run-0")
    envelope = seal(PLAINTEXT, other, kms)
    with pytest.raises(DataIntegrityError, match=r"run-0.*run-1"):
        open_envelope(envelope, CONTEXT, kms)


def test_rewriting_the_envelope_context_does_not_get_past_kms():
    kms = FakeKms()
    other = encryption_context("radar", "run-0")
    envelope = {**seal(PLAINTEXT, other, kms), "context": CONTEXT}
    with pytest.raises(DataIntegrityError, match="context mismatch"):
        open_envelope(envelope, CONTEXT, kms)


def test_context_is_bound_as_gcm_associated_data_even_if_kms_ignored_it():
    lenient = FakeKms(check_context=False)
    envelope = {**seal(PLAINTEXT, encryption_context("radar", "run-0"), lenient), "context": CONTEXT}
    with pytest.raises(DataIntegrityError, match="failed authentication"):
        open_envelope(envelope, CONTEXT, lenient)


def test_missing_fields_are_invalid_input_naming_the_field():
    kms = FakeKms()
    envelope = seal(PLAINTEXT, CONTEXT, kms)
    del envelope["nonce"]
    with pytest.raises(InvalidInputError, match=r"^envelope\.nonce: is missing"):
        open_envelope(envelope, CONTEXT, kms, where="envelope")
    with pytest.raises(InvalidInputError, match=r"^envelope: must be an encrypted envelope"):
        open_envelope("plaintext?", CONTEXT, kms, where="envelope")


def test_garbage_base64_and_unknown_versions_are_integrity_errors():
    kms = FakeKms()
    envelope = seal(PLAINTEXT, CONTEXT, kms)
    with pytest.raises(DataIntegrityError, match="not valid base64"):
        open_envelope({**envelope, "ciphertext": "%%%"}, CONTEXT, kms)
    with pytest.raises(DataIntegrityError, match="only version 1"):
        open_envelope({**envelope, "version": 2}, CONTEXT, kms)
    with pytest.raises(DataIntegrityError, match="expected 12"):
        open_envelope({**envelope, "nonce": base64.b64encode(b"short").decode()}, CONTEXT, kms)
