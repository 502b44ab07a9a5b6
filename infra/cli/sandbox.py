"""``demo`` (every enabled pipeline through its real trigger) and ``run`` (one execution, followed)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence

from infra.cli.common import Stopwatch, UsageError, progress, table
from infra.cli.inputs import ExecutionInput, UploadFile, read_input, read_upload
from infra.sandbox.database_url import DatabaseUrlError, check_database_url

RUN_TIMEOUT_S = 300.0


def _check_database_url() -> None:
    """A malformed STEPWORKS_DATABASE_URL is refused before anything starts (the server is tried at deploy)."""
    try:
        check_database_url(connect=False)
    except DatabaseUrlError as exc:
        raise UsageError(str(exc)) from None


class _FirstInterruptOnly:
    """SIGINT handler: the first Ctrl-C interrupts; later ones while the sandbox stops only say to wait.

    A second Ctrl-C in the middle of the teardown would leave servers running and directories behind.
    """

    def __init__(self):
        self.interrupted = False

    def __call__(self, signum, frame) -> None:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        progress("still tearing the sandbox down, please wait (Ctrl-\\ quits at once)…")


@contextlib.contextmanager
def _one_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _FirstInterruptOnly())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def deployed(stack: str, pipelines: Sequence[str] | None, what: str) -> Iterator:
    """The sandbox with ``pipelines`` deployed, saying so on stderr; torn down whole even on Ctrl-C."""
    from infra.sandbox.environment import sandbox_environment

    progress(f"deploying {what} into the sandbox (stack {stack})…")
    watch = Stopwatch()
    with _one_interrupt(), sandbox_environment(stack, pipelines=pipelines, progress=progress) as sandbox:
        count = len([r for r in sandbox.program.resources if r.custom])
        progress(f"deployed {count} resources in {watch}")
        try:
            yield sandbox
        except KeyboardInterrupt:
            progress("interrupted: tearing the sandbox down…")
            raise


def cmd_demo(args) -> int:
    from infra.sandbox.environment import enabled_pipelines
    from infra.sandbox.scenarios import SCENARIOS

    enabled = enabled_pipelines(args.stack)
    if not enabled:
        raise UsageError(f"stack {args.stack!r} enables no pipelines (stepworks:pipelines): nothing to demo")
    _check_database_url()
    watch = Stopwatch()
    rows = [["pipeline", "status", "duration", "transitions", "landed"]]
    details: list[str] = []
    failed = False
    with deployed(args.stack, None, ", ".join(enabled)) as sandbox:
        for pipeline in sandbox.program.pipelines:
            scenario = SCENARIOS.get(pipeline)
            if scenario is None:
                rows.append([pipeline, "NO SCENARIO", "-", "-", "the sandbox has no demo for this pipeline"])
                failed = True
                continue
            progress(f"running {pipeline}…")
            result = scenario(sandbox)
            failed |= not result.ok
            details += result.details
            detail = result.landed if result.ok else (result.execution.cause_text() or str(result.execution.error))
            execution = result.execution
            rows.append(
                [pipeline, execution.status, f"{execution.duration_s:.2f}s", str(execution.transitions), detail]
            )
    print(table(rows))
    if details:
        print("\n" + "\n".join(details))
    print(f"demo finished in {watch}")
    return 1 if failed else 0


def _pipeline_to_run(stack: str, pipeline: str) -> None:
    """UsageError unless the stack deploys ``pipeline``, listing what it can run (before any deploy)."""
    from infra.sandbox.environment import PipelineNotEnabled, select_pipelines

    try:
        select_pipelines(stack, [pipeline])
    except PipelineNotEnabled as exc:
        raise UsageError(str(exc)) from None


def _start(sandbox, pipeline: str, execution_input: ExecutionInput) -> str:
    """StartExecution with the input text as given (what the 256 KiB limit was checked on)."""
    return sandbox.client("stepfunctions").start_execution(
        stateMachineArn=sandbox.outputs(pipeline)["stateMachineArn"],
        name=f"run-{uuid.uuid4()}",
        input=execution_input.text,
    )["executionArn"]


def run_and_report(sandbox, pipeline: str, execution_input: ExecutionInput) -> int:
    """Start one execution of ``pipeline`` in a deployed sandbox, follow it, print what it did and wrote.

    stdout: the execution, each state entered, the status, the output (or the cause) and what
    landed in the pipeline's stores. Returns the exit status: 0 if it SUCCEEDED, else 1.
    """
    from infra.cli import landed  # the sandbox: a second to import

    before = landed.take(sandbox, pipeline)
    arn = _start(sandbox, pipeline, execution_input)
    print(f"started {arn} ({execution_input.size:,} bytes of input from {execution_input.source})", flush=True)
    return _follow_and_report(sandbox, pipeline, arn, before)


def upload_and_report(sandbox, pipeline: str, upload: UploadFile) -> int:
    """Upload a file the way users do (S3 → EventBridge → the run it starts), follow that run and report it.

    As ``run_and_report``, plus a line per store-day summary the upload wrote.
    """
    from infra.cli import landed
    from infra.sandbox.uploads import NoRunStarted, upload_and_find_run

    before = landed.take(sandbox, pipeline)
    with upload.path.open("rb") as body:
        try:
            run = upload_and_find_run(sandbox, pipeline, upload.name, body)
        except NoRunStarted as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"uploaded s3://{run.bucket}/{run.key} ({upload.size:,} bytes from {upload.path})", flush=True)
    print(f"the upload started {run.execution_arn}", flush=True)
    return _follow_and_report(sandbox, pipeline, run.execution_arn, before, summaries=True)


def request_and_report(sandbox, pipeline: str, execution_input: ExecutionInput, advance_s: float | None = None) -> int:
    """release-approval: put the request under inputs/ (which starts the run), follow it to its callback wait,
    say how to answer, and report the run once a decision (or the clock, ``advance_s``) ends it."""
    from infra.cli import landed
    from infra.sandbox.approvals import request_release
    from infra.sandbox.uploads import NoRunStarted

    before = landed.take(sandbox, pipeline)
    name = f"run-{uuid.uuid4().hex[:12]}.json"
    try:
        run = request_release(sandbox, name, execution_input.text.encode("utf-8"))
    except NoRunStarted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"put the request ({execution_input.size:,} bytes from {execution_input.source}) at s3://{run.bucket}/{run.key}"
    )
    print(f"the upload started {run.execution_arn}", flush=True)
    _await_decision(sandbox, run.execution_arn, execution_input.value, advance_s)
    return _follow_and_report(sandbox, pipeline, run.execution_arn, before, timeout_s=None)


def _await_decision(sandbox, arn: str, request, advance_s: float | None) -> None:
    from infra.sandbox.approvals import until_waiting

    if not until_waiting(sandbox, arn, timeout_s=RUN_TIMEOUT_S):
        return
    story = request.get("storyId", "?") if isinstance(request, dict) else "?"
    print(f"waiting for the Jira decision on {story} (the task token is stored; the execution is paused)")
    if advance_s is not None:
        print(f"advancing the sandbox clock by {advance_s:g} s (the approval wait times out if that passes it)")
        sandbox.clock.advance(advance_s)
        return
    print("answer it as Jira Automation would, from another terminal:")
    print(f"  python -m infra callback release-approval --issue {story} --decision approved --comment 'ship it'")
    print(f"  python -m infra callback release-approval --issue {story} --decision rejected --comment 'not yet'")
    print("or press Ctrl-C to stop the sandbox.", flush=True)


def _follow_and_report(
    sandbox, pipeline: str, arn: str, before, summaries: bool = False, timeout_s: float | None = RUN_TIMEOUT_S
) -> int:
    from infra.cli import landed
    from infra.cli.store_days import written_store_days

    try:
        result = sandbox.wait(arn, timeout_s=float("inf") if timeout_s is None else timeout_s)
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for event in result.history:
        if event["type"].endswith("StateEntered"):
            print(f"  → {event['stateEnteredEventDetails']['name']}")
    print(f"{result.status} in {result.duration_s:.2f}s, {result.transitions} state transitions")
    if result.status == "SUCCEEDED":
        print(json.dumps(result.output, indent=2, ensure_ascii=False))
    else:
        print(result.cause_text() or result.error)
    after = landed.take(sandbox, pipeline)
    if summaries:
        written = written_store_days(before, after)
        print("store-day summaries written:" if written else "store-day summaries written: none")
        for line in written:
            print(f"  {line}")
    changed = landed.changes(before, after)
    print("landed:" if changed else "landed: nothing")
    for line in changed:
        print(f"  {line}")
    return 0 if result.status == "SUCCEEDED" else 1


def cmd_run(args) -> int:
    upload = read_upload(args.file, args.pipeline) if args.file is not None else None
    if upload is not None and args.input is not None:
        raise UsageError("--file and --input: give one (--file uploads a file; --input starts the run directly)")
    execution_input = read_input("{}" if args.input is None else args.input) if upload is None else None
    _pipeline_to_run(args.stack, args.pipeline)
    _check_database_url()
    advance_s = parse_duration(args.advance) if args.advance is not None else None
    if advance_s is not None and args.pipeline not in REQUEST_PIPELINES:
        raise UsageError(f"--advance: only a run that waits for a callback ({', '.join(REQUEST_PIPELINES)}) can use it")
    with deployed(args.stack, [args.pipeline], args.pipeline) as sandbox:
        if args.pipeline in REQUEST_PIPELINES:
            from infra.sandbox.served import served

            if upload is not None:
                execution_input = read_input(f"@{upload.path}")
            with served(sandbox):  # `python -m infra callback` reaches this run from another terminal
                return request_and_report(sandbox, args.pipeline, execution_input, advance_s)
        if upload is not None:
            return upload_and_report(sandbox, args.pipeline, upload)
        return run_and_report(sandbox, args.pipeline, execution_input)


# Pipelines whose --input (or --file) is a request document put under their upload prefix, and whose
# runs wait for a callback: release-approval.
REQUEST_PIPELINES = ("release-approval",)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``25h``, ``2d`` in seconds; UsageError otherwise."""
    raw = text.strip().lower()
    number, unit = (raw[:-1], raw[-1]) if raw[-1:] in _UNITS else (raw, "s")
    try:
        value = float(number)
    except ValueError:
        raise UsageError(f"--advance: {text!r} is not a duration (e.g. 90s, 15m, 25h, 2d)") from None
    if not 0 < value * _UNITS[unit] <= 366 * 86_400:
        raise UsageError(f"--advance: {text!r} is out of range (more than 0, at most 366 days)")
    return value * _UNITS[unit]
