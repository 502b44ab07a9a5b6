"""``python -m infra synth | diff | docs | check | layers | demo | run | callback | serve | fire``: the program offline,
and in the sandbox.

One module per command group (``synth``, ``diff``, ``check``, ``layers``, ``sandbox``); this one parses the
command line and turns every failure into one line on stderr:

- a user error (bad ``--input``, unknown pipeline or stack, ``--out`` onto a file, a bad
  STEPWORKS_DATABASE_URL): ``error: <message>``, exit 2;
- the program refusing the stack (a config error, a resource the sandbox cannot emulate):
  ``error: <message>``, exit 1;
- Ctrl-C: the sandbox torn down, ``interrupted``, exit 130;
- anything else: ``error: <Type>: <message> (re-run with STEPWORKS_DEBUG=1 for the traceback)``,
  exit 1 (with STEPWORKS_DEBUG=1 the traceback is shown).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from infra.cli.common import UsageError, one_line, require_stack
from infra.cli.layers import LayerUse, layer_uses
from infra.cli.synth import definitions, docs_pages, synthesize
from infra.sandbox.database_url import DatabaseUrlError
from infra.sandbox.program import ProgramError, StackFileError

__all__ = ["LayerUse", "definitions", "docs_pages", "layer_uses", "main", "synthesize"]

DEBUG_ENV = "STEPWORKS_DEBUG"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _example(pipeline: str) -> str:
    from infra.cli.inputs import FILE_PIPELINES
    from infra.sandbox.scenarios import EXAMPLE_INPUTS

    if pipeline in EXAMPLE_INPUTS:
        return EXAMPLE_INPUTS[pipeline]
    return "--file sales.json" if pipeline in FILE_PIPELINES else "(no example)"


def _run_epilog() -> str:
    from infra.sandbox.scenarios import EXAMPLE_INPUTS
    from infra.workflows import WORKFLOWS

    width = max(map(len, WORKFLOWS))
    lines = ["pipelines, each with an input it accepts:"]
    lines += [f"  {name.ljust(width)}  {_example(name)}" for name in WORKFLOWS]
    first = next(iter(WORKFLOWS))
    lines += [
        "",
        "examples:",
        f"  python -m infra run {first} --input '{EXAMPLE_INPUTS.get(first, '{}')}'",
        f"  python -m infra run {first} --input @body.json --stack dev",
        f"  python -m infra run {first} --input - < body.json",
        "  python -m pipelines.uploads.generate --out sales.json && python -m infra run uploads --file sales.json",
        "  python -m infra run release-approval --file release.json   # then, elsewhere: python -m infra callback …",
        "",
        "release-approval's input is the release request itself: it is put under inputs/, which starts the",
        "run; the run waits for Jira until `python -m infra callback release-approval` answers it (or",
        "--advance moves the sandbox clock past the wait).",
        "",
        "Only PIPELINE is deployed. Progress goes to stderr; the states entered, the output and",
        "what landed (S3 objects, DynamoDB items, database rows) to stdout. Exit 0 if the",
        "execution SUCCEEDED, 1 if it did not, 2 for a usage error.",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m infra`` parser; ``--stack`` is accepted before or after the subcommand."""
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    # After the subcommand too (`run greeting --stack dev`); SUPPRESS keeps the one given before it.
    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument(
        "--stack", default=argparse.SUPPRESS, help="stack whose Pulumi.<stack>.yaml to use (default: dev)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str, **kwargs) -> argparse.ArgumentParser:
        command_parser = sub.add_parser(name, help=help, description=help, parents=[stack], **kwargs)
        command_parser.set_defaults(func=func)
        return command_parser

    from infra.cli.callback import cmd_callback
    from infra.cli.check import cmd_check
    from infra.cli.cost import add_arguments as add_cost_arguments
    from infra.cli.cost import cmd_cost
    from infra.cli.diff import cmd_diff
    from infra.cli.layers import cmd_layers
    from infra.cli.sandbox import cmd_demo, cmd_run
    from infra.cli.serve import DEFAULT_API_PORTS_FROM, DEFAULT_PORT, cmd_fire, cmd_serve
    from infra.cli.synth import cmd_docs, cmd_synth

    synth = command("synth", cmd_synth, "write every resource, state machine and IAM policy the program declares")
    synth.add_argument("--out", required=True, help="directory to write into (created if missing)")
    diff = command(
        "diff",
        cmd_diff,
        "compare what two synth outputs or git revisions deploy (Markdown: resources, IAM, state machines)",
        epilog="BASE and HEAD are each a directory written by `synth --out`, or a git revision of this\n"
        "repository, synthed in a temporary copy (with --stack). Exit 0, changes or not.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("base", metavar="BASE", help="synth output directory or git revision (e.g. main)")
    diff.add_argument("head", metavar="HEAD", help="synth output directory or git revision (e.g. HEAD)")
    diff.add_argument("--out", metavar="FILE", help="write the Markdown to FILE instead of stdout")
    diff.add_argument(
        "--max-chars",
        type=int,
        metavar="N",
        help="cut the Markdown at N characters, saying so (a GitHub comment holds 65,536)",
    )
    docs = command("docs", cmd_docs, "write a Mermaid diagram page per pipeline")
    docs.add_argument("--out", default="docs", help="directory to write into (default: docs)")
    layers = command("layers", cmd_layers, "list the dependency layers: packages, functions and (--build) sizes")
    layers.add_argument(
        "--build", action="store_true", help="build each layer for Lambda (cached) and report its unzipped size"
    )
    command("check", cmd_check, "run the hardening rule pack over the program (exit 1 on any finding)")
    command("demo", cmd_demo, "deploy every enabled pipeline into the sandbox and run each through its trigger")
    run = command(
        "run",
        cmd_run,
        "deploy one pipeline into the sandbox, start one execution and follow it",
        epilog=_run_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("pipeline", metavar="PIPELINE", help="the pipeline to run (listed below)")
    run.add_argument(
        "--input",
        default=None,
        metavar="JSON|@FILE|-",
        help="execution input: JSON text, @FILE to read a file, - to read stdin (default: {}; at most 256 KiB)",
    )
    run.add_argument(
        "--file",
        metavar="PATH",
        help="for a pipeline started by uploads (uploads, release-approval): upload PATH under its prefix and follow "
        "the run it starts",
    )
    run.add_argument(
        "--advance",
        metavar="DURATION",
        help="release-approval: once the run waits for Jira, advance the sandbox clock by DURATION (25h: see the "
        "timeout) instead of waiting for `callback`",
    )
    cost = command(
        "cost",
        cmd_cost,
        "run each pipeline's demo in the sandbox, meter it, and price a run and a month (Standard and Express)",
        epilog="Prices: infra/cost/prices.py (the stack region's table, dated). Per-run counts are what the\n"
        "demo scenario's run did; a pipeline with a schedule is priced at it, others at 1,000 runs a\n"
        "month unless --runs-per-month says otherwise. Fixed monthly costs (secrets, keys, the database,\n"
        "NAT) are listed apart. Exit 0 if every demo run SUCCEEDED, 1 if one did not, 2 for a usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_cost_arguments(cost)
    callback = command("callback", cmd_callback, "answer a run waiting in a running sandbox, as Jira Automation would")
    callback.add_argument("pipeline", metavar="PIPELINE", help="the pipeline whose run waits (release-approval)")
    callback.add_argument("--issue", required=True, help="the Jira issue key the run waits on (PROJ-1)")
    callback.add_argument("--decision", required=True, choices=("approved", "rejected"))
    callback.add_argument("--comment", default="", help="the decision's comment")
    callback.add_argument("--by", default="", help="who decided (default: Jira Automation)")
    serve = command(
        "serve",
        cmd_serve,
        "keep the sandbox running as a local AWS: the emulator, every HTTP API, the fakes, until Ctrl-C",
        epilog="examples:\n"
        "  python -m infra serve\n"
        "  python -m infra serve --pipeline greeting --pipeline uploads --port 4566 --api-ports-from 4600\n"
        "  aws --endpoint-url http://127.0.0.1:4566 s3 ls   # with the credentials serve prints\n"
        "  python -m infra fire radar                       # from another terminal\n\n"
        "Prints every endpoint and the emulator's credentials, then a line per execution as it starts\n"
        "and ends. Ctrl-C stops it all (exit 130); a taken port is an error (exit 2).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"the emulator's port on 127.0.0.1 (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    serve.add_argument(
        "--api-ports-from",
        type=int,
        default=DEFAULT_API_PORTS_FROM,
        metavar="N",
        help=f"the HTTP APIs' ports, N, N+1… in the order of the APIs' names (default: {DEFAULT_API_PORTS_FROM}; "
        "0: free ones)",
    )
    serve.add_argument(
        "--pipeline",
        action="append",
        metavar="PIPELINE",
        help="serve only this pipeline (repeatable; default: every pipeline the stack enables)",
    )
    serve.add_argument(
        "--schedules",
        action="store_true",
        help="fire each schedule on its own expression (cron/rate/at in its time zone), not only on `fire`",
    )
    fire = command(
        "fire", cmd_fire, "fire a pipeline's schedule in the running `serve`, as EventBridge Scheduler would"
    )
    fire.add_argument("pipeline", metavar="PIPELINE", help="the scheduled pipeline (radar, daily-analysis)")
    fire.add_argument(
        "--time",
        metavar="ISO8601",
        help="the scheduled time the target receives (default: now; 2026-03-01T06:00:00Z; no offset means UTC)",
    )
    fire.add_argument("--wait", action="store_true", help="follow the execution; exit 0 only if it SUCCEEDED")
    return parser


def _readable_output() -> None:
    """Print Unicode as is, and never die on a terminal that cannot show a character."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m infra``: the command's exit status, never a traceback (unless STEPWORKS_DEBUG)."""
    args = build_parser().parse_args(argv)
    try:
        # The ASL interpreter logs every caught task failure at ERROR; executions report them anyway.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        _readable_output()
        require_stack(args.stack)
        return args.func(args)
    except (UsageError, DatabaseUrlError, StackFileError) as exc:
        _error(one_line(exc))
        return EXIT_USAGE
    except ProgramError as exc:
        _error(one_line(exc))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`… | head`): say nothing more, and let exit not flush into the closed pipe.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        _error(f"{type(exc).__name__}: {one_line(exc, 500)} (re-run with {DEBUG_ENV}=1 for the traceback)")
        return 1
