"""``diff BASE HEAD``: what a change would deploy differently, as Markdown for a pull request."""

from __future__ import annotations

from pathlib import Path

from infra.cli.common import Stopwatch, UsageError, progress
from infra.cli.revisions import RevisionSynthError, Source, resolve, synthesized
from infra.plan_diff import SnapshotError, compare, load_snapshot, render_markdown
from infra.plan_diff.snapshot import Snapshot


def _output_file(out: str | None) -> Path | None:
    """``--out`` as a file to write (UsageError for a directory, or a path under a file)."""
    if out is None:
        return None
    path = Path(out)
    if not out.strip() or path.is_dir():
        raise UsageError(f"--out {out}: name a file, not a directory")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--out {out}: is under {parent}, a file")
    return path


def _snapshot(source: Source, directory: Path) -> Snapshot:
    try:
        return load_snapshot(directory)
    except SnapshotError as exc:
        if source.directory is not None:
            raise UsageError(str(exc)) from exc
        raise RevisionSynthError(f"revision {source.label}: {exc}") from exc


def _said(name: str, source: Source) -> str:
    if source.directory is not None:
        return f"{name} {source.argument}: synth output directory"
    return f"{name} {source.argument}: git revision {source.commit[:12]}"


def cmd_diff(args) -> int:
    out = _output_file(args.out)
    if args.max_chars is not None and args.max_chars < 1000:
        raise UsageError(f"--max-chars {args.max_chars}: give at least 1000")
    sources = [resolve(args.base), resolve(args.head)]
    for name, source in zip(("BASE", "HEAD"), sources, strict=True):
        progress(_said(name, source))
    clock = Stopwatch()
    with synthesized(sources, args.stack) as (base_dir, head_dir):
        if any(s.commit for s in sources):
            progress(f"synthed in {clock}")
        plan = compare(_snapshot(sources[0], base_dir), _snapshot(sources[1], head_dir))
    text = render_markdown(plan, sources[0].label, sources[1].label, args.max_chars)
    if out is None:
        print(text, end="", flush=True)
        return 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from exc
    progress(f"wrote {out} ({'no changes' if not plan else f'{len(text):,} characters'})")
    return 0
