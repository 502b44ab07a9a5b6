"""release-approval in the sandbox: state transitions of the happy path, and callback latency.

    python -m benchmarks.release_approval [--runs 20]

Deploys release-approval into the sandbox (its services and Jira as loopback fakes), then for each
run: uploads a release request under inputs/ (the real trigger), waits until the execution waits
at WaitForJiraCallback, sends the approval as Jira Automation does (``POST /callbacks/jira`` with
the shared secret) and follows the execution to its end. It prints

* the state transitions of an approved run (every ``*StateEntered`` of the pipeline's execution,
  and of the once-per-object router that started it), against the seed design's ~25;
* the callback latency: from sending the POST to the execution resuming (the history's
  ``WaitForJiraCallback`` exit), and to the API's answer, median and 95th percentile over the
  runs (after one untimed warm-up run). The sandbox runs every function in-process, so these are
  the orchestration's own costs (API → function → DynamoDB → SendTaskSuccess → the waiting task),
  not Lambda cold starts;
* the whole run's wall time, request upload to SUCCEEDED.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import statistics
import sys
import time
from pathlib import Path

# `make bench` runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED_TRANSITIONS = 25  # the seed's own cost estimate: "25 state transitions per execution"


def _exit_time(history: list[dict], state: str) -> datetime.datetime | None:
    for event in history:
        if event["type"].endswith("StateExited") and event["stateExitedEventDetails"]["name"] == state:
            return event["timestamp"]
    return None


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="approved runs to time (default 20)")
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)

    from infra.sandbox import approvals
    from infra.sandbox.environment import sandbox_environment

    with sandbox_environment("dev", pipelines=[approvals.PIPELINE]) as sandbox:
        automation = approvals.jira(sandbox)
        resumed, answered, whole, transitions, router_transitions = [], [], [], set(), set()
        # Run 0 warms up (first imports, first clients) and is not counted.
        for n in range(args.runs + 1):
            story = f"BENCH-{n + 1}"
            request = {"storyId": story, "packages": ["api@1.0.0", "web@2.0.0"], "environment": "staging",
                       "requester": "bench@example.com"}  # fmt: skip
            started = time.perf_counter()
            run = approvals.request_release(sandbox, f"{story}.json", request)
            if not approvals.until_waiting(sandbox, run.execution_arn):
                print(f"error: run {n + 1} never waited: {sandbox.wait(run.execution_arn).cause_text()}")
                return 1
            sent_wall = datetime.datetime.now(datetime.UTC)
            sent = time.perf_counter()
            status, _ = automation.send(story, "approved", "benchmark", "bench")
            answered.append(time.perf_counter() - sent)
            result = sandbox.wait(run.execution_arn)
            whole.append(time.perf_counter() - started)
            if status != 202 or result.status != "SUCCEEDED":
                print(f"error: run {n + 1}: callback {status}, execution {result.status}")
                return 1
            exited = _exit_time(result.history, approvals.WAIT_STATE)
            # History timestamps are the sandbox clock's: real time plus what pauses added (none here).
            resumed.append((exited - sent_wall).total_seconds() + sandbox.clock.time() - time.time())
            transitions.add(result.transitions)
            routers = sandbox.client("stepfunctions").list_executions(
                stateMachineArn=sandbox.outputs(approvals.PIPELINE)["routerArn"]
            )["executions"]
            router_transitions.add(sandbox.wait(routers[0]["executionArn"]).transitions)
            if n == 0:
                resumed.clear(), answered.clear(), whole.clear()

    (count,) = transitions
    router = max(router_transitions)
    print(f"release-approval in the sandbox, {args.runs} approved runs")
    print(f"  state transitions, happy path: {count} in the pipeline + {router} in its router = {count + router} "
          f"(the seed's design: ~{SEED_TRANSITIONS}; {count + router}/{SEED_TRANSITIONS} = "
          f"{(count + router) / SEED_TRANSITIONS:.2f}x)")  # fmt: skip
    print(f"  callback POST → execution resumed: median {statistics.median(resumed) * 1000:.0f} ms, "
          f"p95 {_p95(resumed) * 1000:.0f} ms")  # fmt: skip
    print(f"  callback POST → API answer (202):  median {statistics.median(answered) * 1000:.0f} ms, "
          f"p95 {_p95(answered) * 1000:.0f} ms")  # fmt: skip
    print(f"  whole run, upload → SUCCEEDED:     median {statistics.median(whole):.2f} s, p95 {_p95(whole):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
