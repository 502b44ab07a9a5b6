"""``layers``: the dependency layers the program declares, their packages and functions, and (--build) sizes."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from infra.cli.common import recorded_program, table
from infra.components import packaging
from infra.sandbox.program import ProgramRun


@dataclass
class LayerUse:
    """One dependency layer the program declares (or none), and the functions that use it."""

    layer: str  # layer name, "" for the functions that need no third-party package
    requirements: tuple[str, ...]
    runtime: str
    architecture: str
    functions: list[str] = field(default_factory=list)


def layer_uses(run: ProgramRun) -> list[LayerUse]:
    """The declared layers, each with its requirement lines and the functions that use it."""
    names = {r.outputs.get("arn"): r.inputs["layerName"] for r in run.of_type("aws:lambda/layerVersion:LayerVersion")}
    uses: dict[tuple[str, ...], LayerUse] = {}
    for fn in run.of_type("aws:lambda/function:Function"):
        arns = tuple(fn.inputs.get("layers") or ())
        use = uses.get(arns)
        if use is None:
            use = uses[arns] = LayerUse(
                layer=", ".join(names.get(arn, arn) for arn in arns),
                requirements=packaging.handler_requirements(fn.inputs["handler"]),
                runtime=fn.inputs["runtime"],
                architecture=(fn.inputs.get("architectures") or ["x86_64"])[0],
            )
        use.functions.append(fn.inputs.get("name") or fn.name)
    for use in uses.values():
        use.functions.sort()
    return sorted(uses.values(), key=lambda u: (u.layer == "", u.layer))


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def cmd_layers(args) -> int:
    uses = layer_uses(recorded_program(args.stack))
    header = ["layer", "packages", "functions"]
    rows = []
    over_limit = False
    code = packaging.code_size()
    for use in uses:
        row = [use.layer or "(none)", ", ".join(use.requirements) or "-", ", ".join(use.functions)]
        if args.build:
            size = 0
            if use.requirements:
                print(f"building {use.layer} ({len(use.requirements)} packages) …", file=sys.stderr, flush=True)
                try:
                    zip_path = packaging.build_layer_zip(
                        use.requirements, packaging.python_version_of(use.runtime), use.architecture
                    )
                except packaging.PackagingError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 1
                size = packaging.unzipped_size(zip_path)
            total = size + code
            fits = total <= packaging.LAMBDA_UNZIPPED_LIMIT_BYTES
            over_limit |= not fits
            limit = packaging.LAMBDA_UNZIPPED_LIMIT_BYTES // 2**20
            row += [_mb(size), f"{_mb(total)} {'≤' if fits else '>'} {limit} MB{'' if fits else ' OVER LIMIT'}"]
        rows.append(row)
    if args.build:
        header += ["layer unzipped", "with code"]
    print(table([header, *rows]))
    return 1 if over_limit else 0
