"""secure_table: a DynamoDB table as every pipeline declares it — on demand, the pipeline's key, PITR.

A function rather than a component, so a table keeps its place (and its data) in an existing
stack: the resource is a direct child of ``opts.parent``, as the workflows declared it before.
Keys are strings; a GSI is ``(name, hash attribute, range attribute or None)`` projecting all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

Index = tuple[str, str, str | None]


def secure_table(
    name: str,
    *,
    hash_key: str,
    key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    range_key: str | None = None,
    indexes: Sequence[Index] = (),
    ttl_attribute: str | None = None,
) -> aws.dynamodb.Table:
    """A pay-per-request table encrypted with ``key_arn``, point-in-time recovery on, optional TTL and GSIs."""
    keys = [hash_key, *([range_key] if range_key else [])]
    for _, index_hash, index_range in indexes:
        keys += [k for k in (index_hash, index_range) if k and k not in keys]
    return aws.dynamodb.Table(
        name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=hash_key,
        range_key=range_key,
        attributes=[aws.dynamodb.TableAttributeArgs(name=k, type="S") for k in keys],
        global_secondary_indexes=[
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index,
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=attribute, key_type=kind)
                    for attribute, kind in ((index_hash, "HASH"), (index_range, "RANGE"))
                    if attribute
                ],
                projection_type="ALL",
            )
            for index, index_hash, index_range in indexes
        ]
        or None,
        ttl=aws.dynamodb.TableTtlArgs(attribute_name=ttl_attribute, enabled=True) if ttl_attribute else None,
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=key_arn),
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        tags=dict(tags),
        opts=opts,
    )
