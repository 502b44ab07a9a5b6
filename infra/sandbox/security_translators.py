"""Translations of the KMS and Secrets Manager types: keys (with their policy and rotation), aliases, secrets."""

from __future__ import annotations

from typing import Any

from infra.sandbox.mocks import physical_name
from infra.sandbox.translator_support import _account, _client, _tags_list


def kms_key(mocks, r):
    inputs = r.inputs
    window = int(inputs.get("deletionWindowInDays") or 30)
    if not 7 <= window <= 30:
        # Used only when the key is destroyed (ScheduleKeyDeletion), but validated like AWS does.
        raise ValueError(f"deletionWindowInDays must be between 7 and 30, got {window}")
    kwargs: dict[str, Any] = dict(
        Description=inputs.get("description", ""),
        KeyUsage=inputs.get("keyUsage") or "ENCRYPT_DECRYPT",
        KeySpec=inputs.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT",
        Tags=_tags_list(inputs.get("tags"), "TagKey", "TagValue"),
    )
    if inputs.get("policy"):
        kwargs["Policy"] = inputs["policy"]
    if inputs.get("multiRegion"):
        kwargs["MultiRegion"] = True
    kms = _client(mocks, "kms")
    key = kms.create_key(**kwargs)["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    if inputs.get("isEnabled") is False:
        kms.disable_key(KeyId=key["KeyId"])
    return key["KeyId"], {
        "arn": key["Arn"],
        "keyId": key["KeyId"],
        "policy": kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"],
        "deletionWindowInDays": window,
        "enableKeyRotation": bool(inputs.get("enableKeyRotation")),
    }


def kms_alias(mocks, r):
    name = r.inputs.get("name") or f"alias/{physical_name(r.name, 250)}"
    kms = _client(mocks, "kms")
    kms.create_alias(AliasName=name, TargetKeyId=r.inputs["targetKeyId"])
    target = kms.describe_key(KeyId=name)["KeyMetadata"]
    return name, {
        "arn": f"arn:aws:kms:{mocks.region}:{_account(mocks)}:{name}",
        "name": name,
        "targetKeyArn": target["Arn"],
    }


def secret(mocks, r):
    name = r.inputs.get("name") or physical_name(r.name, 256)
    kwargs: dict[str, Any] = dict(
        Name=name, Description=r.inputs.get("description", ""), Tags=_tags_list(r.inputs.get("tags"))
    )
    if r.inputs.get("kmsKeyId"):
        kwargs["KmsKeyId"] = r.inputs["kmsKeyId"]
    created = _client(mocks, "secretsmanager").create_secret(**kwargs)
    return created["ARN"], {"arn": created["ARN"], "name": name, "kmsKeyId": r.inputs.get("kmsKeyId", "")}


SECURITY_TRANSLATORS = {
    "aws:kms/key:Key": kms_key,
    "aws:kms/alias:Alias": kms_alias,
    "aws:secretsmanager/secret:Secret": secret,
}
