"""QuickSightExport: a pipeline's datasets in its bucket as QuickSight S3 data sources.

- one QuickSight S3 manifest per dataset (``<manifest_prefix><dataset>.json``), written by the
  program: format ``JSON`` over every object under ``<export_prefix><dataset>/``, so each run's new
  files are picked up without touching the manifest;
- with a QuickSight ``principal`` (a user or group ARN): a role QuickSight assumes that may only
  read the export and the manifests (and decrypt them through S3), and one S3 data source per
  manifest, owned by the principal. Without one, the manifests are there for someone to point
  QuickSight at by hand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components import trust
from infra.components.bucket import SecureBucket
from infra.components.stack import PipelineOwner, moved_from

# What the owning principal may do with a data source (QuickSight's "owner" permission set).
OWNER_ACTIONS = (
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:DeleteDataSource",
    "quicksight:UpdateDataSourcePermissions",
)


def manifest_document(bucket: str, prefix: str) -> dict[str, Any]:
    """A QuickSight S3 manifest over every object under ``s3://bucket/prefix`` (JSON records)."""
    return {"fileLocations": [{"URIPrefixes": [f"s3://{bucket}/{prefix}"]}], "globalUploadSettings": {"format": "JSON"}}


@dataclass
class QuickSightExportArgs:
    """The bucket and prefixes of the export, its datasets and, optionally, the QuickSight owner."""

    owner: PipelineOwner
    bucket: SecureBucket
    datasets: Sequence[str]
    export_prefix: str  # a dataset's files are under <export_prefix><dataset>/
    manifest_prefix: str  # its manifest is <manifest_prefix><dataset>.json
    principal: str | None = None
    # The component that declared the role and data sources before they moved here (no replacement).
    moved_from: pulumi.Resource | None = None


class QuickSightExport(pulumi.ComponentResource):
    """The manifests, and with a principal the read-only role and the data sources (``data_sources``)."""

    def __init__(self, name: str, args: QuickSightExportArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:QuickSightExport", name, None, opts)
        bucket = args.bucket
        self.manifest_keys = [f"{args.manifest_prefix}{dataset}.json" for dataset in args.datasets]
        self.manifests = [
            bucket.put_object(
                f"{name}-manifest-{dataset}",
                key,
                bucket.name.apply(
                    lambda b, d=dataset: json.dumps(manifest_document(b, f"{args.export_prefix}{d}/"), indent=2)
                ),
                "application/json",
            )
            for dataset, key in zip(args.datasets, self.manifest_keys, strict=True)
        ]
        self.data_sources: list[aws.quicksight.DataSource] = []
        if args.principal:
            self.data_sources = self._data_sources(name, args, args.principal)
        self.register_outputs({"manifestKeys": self.manifest_keys})

    def _data_sources(self, name: str, args: QuickSightExportArgs, principal: str) -> list[aws.quicksight.DataSource]:
        owner, bucket = args.owner, args.bucket
        child = pulumi.ResourceOptions(parent=self, aliases=moved_from(args.moved_from))
        role = aws.iam.Role(
            f"{name}-quicksight-role",
            path=owner.role_path,
            assume_role_policy=trust.trust_policy("quicksight.amazonaws.com", owner.stack.account_id),
            tags=owner.tags,
            opts=child,
        )
        grants = [
            *bucket.read(args.export_prefix, "ReadExport"),
            *bucket.read(args.manifest_prefix, "ReadManifests"),
            *bucket.list(),
        ]
        policy = aws.iam.RolePolicy(
            f"{name}-quicksight-policy", role=role.id, policy=g.policy_document(grants), opts=child
        )
        stack = owner.stack
        return [
            aws.quicksight.DataSource(
                f"{name}-quicksight-{dataset}",
                data_source_id=f"{stack.owner(owner.pipeline)}-{dataset}",
                name=f"stepworks {dataset} ({stack.name_prefix})",
                type="S3",
                parameters=aws.quicksight.DataSourceParametersArgs(
                    s3=aws.quicksight.DataSourceParametersS3Args(
                        manifest_file_location=aws.quicksight.DataSourceParametersS3ManifestFileLocationArgs(
                            bucket=bucket.name, key=key
                        ),
                        role_arn=role.arn,
                    )
                ),
                permissions=[aws.quicksight.DataSourcePermissionArgs(actions=list(OWNER_ACTIONS), principal=principal)],
                tags=owner.tags,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy, *self.manifests])),
            )
            for dataset, key in zip(args.datasets, self.manifest_keys, strict=True)
        ]
