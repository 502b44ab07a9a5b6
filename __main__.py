"""stepworks: read stack config, build the enabled pipelines, export their outputs."""

import json

import pulumi
import pulumi_aws as aws

from infra.components.bucket import AccessLogBucket, AccessLogBucketArgs
from infra.components.packaging import LayerCatalog, code_archive
from infra.components.stack import FunctionRuntime, StackContext
from infra.config import NAMESPACE, TOP_LEVEL_KEYS, load_stack_config
from infra.workflows import WORKFLOWS

config = pulumi.Config(NAMESPACE)
raw = {}
for key in (*TOP_LEVEL_KEYS, *WORKFLOWS):
    value = config.get(key)
    if value is not None:
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value  # a plain string setting

stack_config = load_stack_config(
    raw, stack=pulumi.get_stack(), region=pulumi.Config("aws").require("region"), known_pipelines=list(WORKFLOWS)
)
prefix = stack_config.resource_prefix
account_id = aws.get_caller_identity_output().account_id
access_logs = AccessLogBucket(
    f"{prefix}-access-logs",
    AccessLogBucketArgs(
        account_id=account_id, retention_days=stack_config.access_log_retention_days, tags=stack_config.tags
    ),
)
stack = StackContext(
    name_prefix=prefix,
    region=stack_config.region,
    account_id=account_id,
    log_retention_days=stack_config.functions.log_retention_days,
    functions=FunctionRuntime(
        runtime=stack_config.functions.runtime,
        architecture=stack_config.functions.architecture,
        log_level=stack_config.functions.log_level,
        code=code_archive(),
        layers=LayerCatalog(prefix, stack_config.functions.runtime, stack_config.functions.architecture),
    ),
    access_logs=access_logs,
    tags=stack_config.tags,
)
pulumi.export("accessLogBucket", access_logs.name)
for name in stack_config.enabled_pipelines:
    pulumi.export(name, WORKFLOWS[name].build(stack_config, stack))
# Last: the log bucket's policy names every bucket the pipelines declared.
access_logs.seal()
