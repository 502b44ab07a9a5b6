"""``cost``: each pipeline's demo scenario run in the sandbox, metered, and priced per run and per month.

What is metered (``infra/sandbox/metering.py``) is what the run's functions, state machine
integrations, triggers and APIs asked of AWS while the scenario ran, never the sandbox's own setup
or reads. Prices: ``infra/cost/prices.py`` (the stack region's table, dated). Fixed monthly costs
(secrets, keys, the database, NAT) come from the stack as ``Pulumi.<stack>.yaml`` declares it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass

from infra.cli.common import Stopwatch, UsageError, progress, recorded_program, table

DEFAULT_RUNS_PER_MONTH = 1000.0
# Where the sandbox's run differs from a run of the stack as declared, by pipeline.
SANDBOX_DIFFERENCES = {
    "release-approval": "the sandbox answers the validation, deployment and notification calls with loopback "
    "fakes and sets jiraBaseUrl (one more secret read a run, for the Jira comment); the dev stack as declared "
    "(referenceServices: true) calls its reference services instead, 3 functions behind an HTTP API: about 3 "
    "more API requests and 3 more Lambda invocations a run",
}


def runs_argument(text: str) -> float:
    """``--runs-per-month``: a positive number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of runs (e.g. 1000)") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: runs per month must be a positive number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``cost`` command's options."""
    parser.add_argument(
        "--runs-per-month",
        type=runs_argument,
        metavar="N",
        help="price N runs a month for every pipeline (default: a scheduled pipeline's schedule, else 1,000)",
    )
    parser.add_argument(
        "--pipeline",
        action="extend",
        nargs="+",
        metavar="P",
        dest="pipelines",
        help="only these pipelines (repeatable; default: every enabled one)",
    )


def usd(value: float) -> str:
    """Dollars with two decimals from a cent up, else three significant digits (``$0.0000750``)."""
    if value == 0:
        return "$0"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    decimals = 2 - math.floor(math.log10(abs(value)))
    return f"${value:.{decimals}f}"


def quantity(value: float) -> str:
    """A quantity: whole numbers with separators, fractions with four significant digits."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    decimals = 3 - math.floor(math.log10(abs(value))) if value else 0
    return f"{value:.{decimals}f}"


@dataclass
class Report:
    """One pipeline's priced run."""

    pipeline: str
    status: str
    duration_s: float
    runs: float
    runs_basis: str
    usage: object
    standard: list
    express: list | None
    verdict: object
    fixed: list


def _runs_per_month(program, pipeline: str, override: float | None) -> tuple[float, str]:
    from infra.cost.schedule import runs_per_month
    from infra.cost.usage import owner_of

    if override is not None:
        return override, "--runs-per-month"
    pipelines = program.pipelines
    for schedule in program.of_type("aws:scheduler/schedule:Schedule"):
        if owner_of(schedule.name, schedule.inputs.get("tags"), pipelines) == pipeline:
            expression = str(schedule.inputs.get("scheduleExpression", ""))
            runs = runs_per_month(expression)
            if runs is not None:
                return runs, expression
    return DEFAULT_RUNS_PER_MONTH, "assumed: no schedule"


def _declared(stack: str, pipelines: list[str] | None):
    """The stack as ``Pulumi.<stack>.yaml`` declares it (only ``pipelines``, if given), recorded, not deployed."""
    if pipelines is None:
        return recorded_program(stack)
    from infra.sandbox import program
    from infra.sandbox.mocks import RecordingMocks

    config = {**program.load_stack_file(stack), "stepworks:pipelines": list(pipelines)}
    return program.run_program(RecordingMocks(), config, stack=stack)


def _started_by_router(use) -> bool:
    return any(
        e.machine_type == "EXPRESS" and "arn:aws:states:::states:startExecution" in json.dumps(e.definition)
        for e in use.executions
    )


def _price(stack: str, pipelines: list[str] | None, override: float | None) -> tuple[list[Report], object, str]:
    """Deploy, run each scenario (metering the chosen pipelines'), price; (reports, fixed costs, region)."""
    from infra.cli.sandbox import _check_database_url, deployed
    from infra.cost import pricing
    from infra.cost.prices import UnknownRegion, prices_for
    from infra.cost.usage import Owners, measure
    from infra.sandbox import program as program_module
    from infra.sandbox.environment import PipelineNotEnabled, select_pipelines
    from infra.sandbox.metering import Meter
    from infra.sandbox.scenarios import SCENARIOS

    region = str(program_module.load_stack_file(stack).get("aws:region", ""))
    try:
        prices = prices_for(region)
    except UnknownRegion as exc:
        raise UsageError(str(exc)) from None
    try:
        chosen = select_pipelines(stack, pipelines)
    except PipelineNotEnabled as exc:
        raise UsageError(str(exc)) from None
    wanted = set(pipelines) if pipelines else set(chosen)
    _check_database_url()
    declared = _declared(stack, chosen if pipelines else None)
    fixed = pricing.fixed_costs(declared.resources, declared.pipelines, prices)
    reports = []
    with deployed(stack, pipelines, ", ".join(chosen)) as sandbox:
        meter = Meter.for_sandbox(sandbox)
        owners = Owners.from_resources(sandbox.program.resources, sandbox.program.pipelines)
        undo = meter.install()
        try:
            for pipeline in sandbox.program.pipelines:
                scenario = SCENARIOS.get(pipeline)
                if scenario is None:
                    raise UsageError(f"the sandbox has no demo scenario for {pipeline!r}: nothing to measure")
                if pipeline not in wanted:
                    progress(f"running {pipeline} (what {', '.join(sorted(wanted))} reads; not metered)…")
                    scenario(sandbox)
                    continue
                progress(f"running and metering {pipeline}…")
                result, use = measure(sandbox, meter, owners, pipeline, scenario)
                runs, basis = _runs_per_month(declared, pipeline, override)
                timeouts = [owners.function_timeouts.get(name, 0) for name in use.functions]
                verdict = pricing.express_verdict(use.executions, timeouts, _started_by_router(use))
                reports.append(
                    Report(
                        pipeline,
                        result.execution.status,
                        result.execution.duration_s,
                        runs,
                        basis,
                        use,
                        pricing.run_lines(use, prices),
                        pricing.run_lines(use, prices, as_express=True) if verdict.qualifies else None,
                        verdict,
                        fixed.of(pipeline),
                    )
                )
        finally:
            undo()
    return reports, fixed, region


def _lines_table(lines, indent: str = "    ") -> list[str]:
    from infra.cost.pricing import total

    rows = [["item", "quantity", "unit price", "cost", "how counted"]]
    for line in lines:
        rows.append([line.item, quantity(line.quantity), line.price.quoted, usd(line.usd), line.note])
    rows.append(["total per run", "", "", usd(total(lines)), ""])
    return [indent + row for row in table(rows).splitlines()]


def _summary(reports: list[Report], stack_fixed: float) -> str:
    from infra.cost.pricing import total

    rows = [
        [
            "pipeline",
            "run",
            "runs/month",
            "transitions",
            "Standard/run",
            "Standard/month",
            "Express?",
            "Express/run",
            "Express/month",
            "fixed/month",
        ]
    ]
    sums = [0.0, 0.0, 0.0]
    for r in reports:
        standard = total(r.standard)
        express = total(r.express) if r.express is not None else None
        fixed = sum(f.usd for f in r.fixed)
        sums[0] += standard * r.runs
        sums[1] += (express if express is not None else standard) * r.runs
        sums[2] += fixed
        rows.append(
            [
                r.pipeline,
                r.status,
                f"{quantity(round(r.runs, 2))} ({r.runs_basis})",
                quantity(r.usage.transitions),
                usd(standard),
                usd(standard * r.runs),
                r.verdict.short,
                usd(express) if express is not None else "-",
                usd(express * r.runs) if express is not None else "-",
                usd(fixed),
            ]
        )
    if len(reports) > 1:
        rows.append(["total", "", "", "", "", usd(sums[0]), "", "", usd(sums[1]), usd(sums[2])])
    text = table(rows)
    if len(reports) > 1:
        text += "\n(the Express/month total counts a pipeline that does not qualify at its Standard cost)"
    if stack_fixed:
        text += f"\n(and {usd(stack_fixed)} a month of the stack's own, shared by every pipeline: see below)"
    return text


def _details(r: Report) -> list[str]:
    use = r.usage
    out = [
        f"{r.pipeline}: the demo run {r.status} in {r.duration_s:.2f} s; "
        f"{quantity(round(r.runs, 2))} runs a month ({r.runs_basis})"
    ]
    for execution in use.executions:
        name = execution.machine_arn.rsplit(":", 1)[-1]
        out.append(
            f"  execution of {name} ({execution.machine_type}): {execution.status}, {execution.duration_s:.2f} s, "
            f"{execution.transitions} states entered ({execution.retries} retries)"
        )
    out.append("  as Standard, per run:")
    out += _lines_table(r.standard)
    if r.express is not None:
        out.append(f"  as Express ({r.verdict.short}: {r.verdict.reason}), per run:")
        out += [f"    * {caveat}" for caveat in r.verdict.caveats]
        out += _lines_table(r.express)
    else:
        out.append(f"  Express: no — {r.verdict.reason}")
    if r.fixed:
        listed = ", ".join(f"{f.item} {usd(f.usd)}" for f in r.fixed)
        out.append(f"  fixed per month ({usd(sum(f.usd for f in r.fixed))}): {listed}")
    if use.unpriced:
        listed = ", ".join(f"{name} x{count}" for name, count in sorted(use.unpriced.items()))
        out.append(f"  requests with no price of their own (free, or priced as the run itself): {listed}")
    if use.other_pipelines:
        listed = ", ".join(f"{name} ({count})" for name, count in sorted(use.other_pipelines.items()))
        out.append(f"  not counted, other pipelines' work during the scenario: {listed}")
    if r.pipeline in SANDBOX_DIFFERENCES:
        out.append(f"  in the sandbox: {SANDBOX_DIFFERENCES[r.pipeline]}")
    if use.unattributed:
        out.append(f"  not counted: {use.unattributed} request(s) signed by keys no declared role holds")
    return out


NOTES = """\
Notes:
- Measured, not modelled: the counts are what one run of each pipeline's demo scenario (infra/sandbox/scenarios.py)
  did through its real trigger; other inputs cost differently (a larger upload writes more summaries).
- Lambda durations are in-process times in the sandbox: a lower bound of what Lambda bills (no cold start or init
  phase, no network time to AWS services or third-party APIs).
- DynamoDB units are per item size (1 KB a write unit, 4 KB a read unit, eventually consistent reads at half).
- List prices before free tiers (they are per account, shared by all pipelines). Not included: storage (S3,
  DynamoDB, log retention), data transfer, NAT data processing ($0.045/GB), VPC flow logs, RDS Enhanced Monitoring
  logs, API access logs.
- Express is priced with one 64 MB memory chunk and the sandbox's run time; Express runs are at-least-once and
  keep no execution history (only their logs)."""


def cmd_cost(args) -> int:
    """Run, meter and price each selected pipeline's demo; print the summary table and the details."""
    from infra.cost.prices import TAKEN

    watch = Stopwatch()
    reports, fixed, region = _price(args.stack, args.pipelines, args.runs_per_month)
    stack_fixed = fixed.of(None)
    print(
        f"Cost per run, measured in the sandbox: stack {args.stack}, {region} on-demand list prices of {TAKEN} "
        "(infra/cost/prices.py), before free tiers"
    )
    print()
    print(_summary(reports, sum(f.usd for f in stack_fixed) if not args.pipelines else 0.0))
    print()
    print("yes* = qualifies for Express as measured, with caveats (see the details)")
    for report in reports:
        print()
        print("\n".join(_details(report)))
    if stack_fixed and not args.pipelines:
        print()
        listed = ", ".join(f"{f.item} {usd(f.usd)}" for f in stack_fixed)
        print(f"the stack's own fixed costs per month ({usd(sum(f.usd for f in stack_fixed))}): {listed}")
    if fixed.unpriced:
        print()
        print("not priced: " + "; ".join(fixed.unpriced))
    print()
    print(NOTES)
    failed = [r for r in reports if r.status != "SUCCEEDED"]
    progress(f"cost finished in {watch}")
    if failed:
        for r in failed:
            print(f"error: the {r.pipeline} demo run ended {r.status}: its cost is of that run", file=sys.stderr)
        return 1
    return 0
