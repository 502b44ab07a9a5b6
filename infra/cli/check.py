"""``check``: the hardening rule pack over the program under recording mocks; exit 1 on any finding."""

from __future__ import annotations

import sys

from infra.sandbox import program
from infra.sandbox.mocks import ACCOUNT_ID, REGION, RecordingMocks
from infra.sandbox.program import run_program


def cmd_check(args) -> int:
    from infra.hardening import check

    config = program.load_stack_file(args.stack)
    # The mocks answer getRegion with the stack's region, so the program and the rules agree on ARNs.
    region = str(config.get("aws:region") or REGION)
    run = run_program(RecordingMocks(region=region), config, stack=args.stack)
    report = check(run.resources, ACCOUNT_ID, region)
    print("\n".join(report.lines()))
    for error in report.errors:
        print(f"error: rule {error}", file=sys.stderr)
    found, exempted = len(report.findings), len(report.exempted)
    print(f"{len(report.results)} rules: {found} finding{'s' if found != 1 else ''}, {exempted} exempted")
    return 0 if report.ok else 1
