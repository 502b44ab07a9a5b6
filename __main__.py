"""stepworks: read stack config, build the enabled pipelines, export their outputs."""

import dataclasses

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

from infra.components.bucket import AccessLogBucket, AccessLogBucketArgs
from infra.components.operations import Operations, OperationsArgs, OperationsDashboard, OperationsDashboardArgs
from infra.components.packaging import LayerCatalog, code_archive
from infra.components.stack import FunctionRuntime, StackContext
from infra.config import NAMESPACE, TOP_LEVEL_KEYS, load_stack_config, stepworks_settings
from infra.workflows import SETTINGS_READERS, WORKFLOWS

# Every stepworks:* key, known or not, so a misspelled one is an error rather than ignored. A real
# `pulumi up` hands the program its config as JSON in PULUMI_CONFIG (get_config_env); the mock
# runtime (sandbox, tests) sets it in the runtime's CONFIG. Known keys are read through
# pulumi.Config as well, which also sees a PULUMI_CONFIG_<KEY> variable.
every_setting = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
config = pulumi.Config(NAMESPACE)
for key in (*TOP_LEVEL_KEYS, *WORKFLOWS):
    if config.get(key) is not None:
        every_setting[f"{NAMESPACE}:{key}"] = config.get(key)
# The sandbox-only settings are allowed only under Pulumi's mock runtime.
in_sandbox = isinstance(pulumi_settings.get_monitor(), pulumi_mocks.MockMonitor)
stack_config = load_stack_config(
    stepworks_settings(every_setting),
    stack=pulumi.get_stack(),
    region=pulumi.Config("aws").require("region"),
    known_pipelines=list(WORKFLOWS),
    in_sandbox=in_sandbox,
)
# Every pipeline's section is validated before any resource is declared, an enabled pipeline's or
# not (a typo in a disabled one would otherwise surface only the day it is enabled).
for name in WORKFLOWS:
    SETTINGS_READERS[name](stack_config.pipeline(name))
stack_config.require_all_checked()
prefix = stack_config.resource_prefix
account_id = aws.get_caller_identity_output().account_id
access_logs = AccessLogBucket(
    f"{prefix}-access-logs",
    AccessLogBucketArgs(
        account_id=account_id, retention_days=stack_config.access_log_retention_days, tags=stack_config.tags
    ),
)
base = StackContext(
    name_prefix=prefix,
    region=stack_config.region,
    account_id=account_id,
    log_retention_days=stack_config.functions.log_retention_days,
    functions=FunctionRuntime(
        runtime=stack_config.functions.runtime,
        architecture=stack_config.functions.architecture,
        log_level=stack_config.functions.log_level,
        allow_loopback_http=stack_config.sandbox_loopback_http,
        code=code_archive(),
        layers=LayerCatalog(prefix, stack_config.functions.runtime, stack_config.functions.architecture),
    ),
    access_logs=access_logs,
    tags=stack_config.tags,
)
pulumi.export("accessLogBucket", access_logs.name)
# The operations topic first: every state machine, function and HTTP API the pipelines declare
# gets its alarms from the generic components, notifying it.
operations = Operations("operations", OperationsArgs(base, stack_config.operations))
stack = dataclasses.replace(base, alarms=operations.target)
# In WORKFLOWS' order, whatever the config's: a pipeline that reads another's resources (daily-analysis
# reads the summaries uploads writes) is built after it.
built: dict[str, pulumi.ComponentResource] = {}
for name in (n for n in WORKFLOWS if n in stack_config.enabled_pipelines):
    built[name] = WORKFLOWS[name].build(stack_config, stack, built)
    pulumi.export(name, built[name].outputs)
# Last: the dashboard draws every resource the pipelines' alarms watch, and the log bucket's policy
# names every bucket the pipelines declared.
dashboard = OperationsDashboard("operations", OperationsDashboardArgs(stack, operations.target))
pulumi.export("operations", {**operations.outputs, "dashboardName": dashboard.name})
access_logs.seal()
