"""stepworks: read stack config, build the enabled pipelines, export their outputs."""

import json

import pulumi

from infra.components.packaging import LayerCatalog, code_archive
from infra.components.pipeline import FunctionRuntime
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

stack = load_stack_config(
    raw, stack=pulumi.get_stack(), region=pulumi.Config("aws").require("region"), known_pipelines=list(WORKFLOWS)
)
runtime = FunctionRuntime(
    runtime=stack.functions.runtime,
    architecture=stack.functions.architecture,
    log_retention_days=stack.functions.log_retention_days,
    log_level=stack.functions.log_level,
    code=code_archive(),
    layers=LayerCatalog(stack.resource_prefix, stack.functions.runtime, stack.functions.architecture),
    name_prefix=stack.resource_prefix,
    tags=stack.tags,
)
for name in stack.enabled_pipelines:
    pulumi.export(name, WORKFLOWS[name].build(stack, runtime))
