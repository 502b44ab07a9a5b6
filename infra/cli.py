"""``python -m infra synth | demo | run``: the program offline, and in the sandbox."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import pulumi

from infra.sandbox.mocks import SECRET_SIG, RecordingMocks
from infra.sandbox.program import ProgramError, ProgramRun, load_stack_file, run_program


def _jsonable(value: Any) -> Any:
    """Resource inputs as JSON: archives as their file lists, secrets masked."""
    if isinstance(value, dict):
        if SECRET_SIG in value.values():
            return "[secret]"
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": sorted(value.assets)}
    if isinstance(value, pulumi.FileArchive):
        return {"archive": value.path}
    if isinstance(value, (pulumi.FileAsset, pulumi.StringAsset)):
        return {"asset": getattr(value, "path", None) or "<inline>"}
    return value


def synthesize(run: ProgramRun, out: Path) -> list[Path]:
    """Write resources.json, ``<pipeline>.asl.json`` per state machine and every IAM policy."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    resources = [{"type": r.typ, "name": r.name, "inputs": _jsonable(r.inputs)} for r in run.resources if r.custom]
    path = out / "resources.json"
    path.write_text(json.dumps(resources, indent=2, sort_keys=True))
    written.append(path)
    for machine in run.of_type("aws:sfn/stateMachine:StateMachine"):
        pipeline = (machine.inputs.get("tags") or {}).get("pipeline", machine.name)
        path = out / f"{pipeline}.asl.json"
        path.write_text(json.dumps(json.loads(machine.inputs["definition"]), indent=2, sort_keys=True))
        written.append(path)
    iam = out / "iam"
    iam.mkdir(exist_ok=True)
    for role in run.of_type("aws:iam/role:Role"):
        path = iam / f"{role.name}.trust.json"
        path.write_text(json.dumps(json.loads(role.inputs["assumeRolePolicy"]), indent=2))
        written.append(path)
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        path = iam / f"{policy.name}.json"
        path.write_text(json.dumps(json.loads(policy.inputs["policy"]), indent=2))
        written.append(path)
    for policy in run.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        path = iam / f"{policy.name}.bucket-policy.json"
        path.write_text(json.dumps(json.loads(policy.inputs["policy"]), indent=2))
        written.append(path)
    return written


def cmd_synth(args) -> int:
    run = run_program(RecordingMocks(), {**load_stack_file(args.stack)}, stack=args.stack)
    written = synthesize(run, Path(args.out))
    print(f"wrote {len(written)} files to {args.out} ({len([r for r in run.resources if r.custom])} resources)")
    return 0


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_demo(args) -> int:
    from infra.sandbox.core import Sandbox
    from infra.sandbox.environment import sandbox_environment
    from infra.sandbox.scenarios import SCENARIOS

    started = time.monotonic()
    with sandbox_environment(args.stack) as sandbox:
        enabled = list(sandbox.program.outputs)
        print(
            f"deployed {len(sandbox.program.resources)} resources for {', '.join(enabled)} "
            f"in {time.monotonic() - started:.1f}s"
        )
        rows = [["pipeline", "status", "duration", "transitions", "landed"]]
        failed = False
        for pipeline in enabled:
            scenario = SCENARIOS.get(pipeline)
            if scenario is None:
                rows.append([pipeline, "NO SCENARIO", "-", "-", "the sandbox has no demo for this pipeline"])
                failed = True
                continue
            result = scenario(sandbox)
            failed |= not result.ok
            detail = result.landed if result.ok else (result.execution.cause_text() or str(result.execution.error))
            rows.append(
                [
                    pipeline,
                    result.execution.status,
                    f"{result.execution.duration_s:.2f}s",
                    str(result.execution.transitions),
                    detail,
                ]
            )
        assert isinstance(sandbox, Sandbox)
    print(_table(rows))
    print(f"demo finished in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


def cmd_run(args) -> int:
    from infra.sandbox.environment import sandbox_environment

    try:
        payload = json.loads(args.input)
    except json.JSONDecodeError as exc:
        print(f"--input is not valid JSON: {exc}", file=sys.stderr)
        return 2
    with sandbox_environment(args.stack) as sandbox:
        if args.pipeline not in sandbox.program.outputs:
            print(
                f"pipeline {args.pipeline!r} is not enabled; enabled: {', '.join(sandbox.program.outputs)}",
                file=sys.stderr,
            )
            return 2
        arn = sandbox.start(sandbox.outputs(args.pipeline)["stateMachineArn"], payload)
        print(f"started {arn}")
        result = sandbox.wait(arn)
        for event in result.history:
            if event["type"].endswith("StateEntered"):
                print(f"  → {event['stateEnteredEventDetails']['name']}")
        print(f"{result.status} in {result.duration_s:.2f}s, {result.transitions} state transitions")
        if result.status == "SUCCEEDED":
            print(json.dumps(result.output, indent=2))
            return 0
        print(result.cause_text() or result.error)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m infra``."""
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    sub = parser.add_subparsers(dest="command", required=True)
    synth = sub.add_parser("synth", help="write every resource, state machine and IAM policy the program declares")
    synth.add_argument("--out", required=True, help="directory to write into")
    synth.set_defaults(func=cmd_synth)
    demo = sub.add_parser("demo", help="deploy every enabled pipeline into the sandbox and run each")
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="start one execution in the sandbox and follow it")
    run.add_argument("pipeline")
    run.add_argument("--input", default="{}", help="execution input as JSON")
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    # The ASL interpreter logs every caught task failure at ERROR; executions report them anyway.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    try:
        return args.func(args)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
