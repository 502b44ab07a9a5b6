"""``diff``'s arguments: a synth output directory, or a git revision synthed in a throwaway copy of it.

A revision is exported with ``git archive`` into a temporary directory (the repository's worktrees
and refs are left alone) and synthed there by its own ``python -m infra synth``, run with this
interpreter; the copy is removed afterwards. Two revisions are synthed side by side.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.cli.common import UsageError, one_line, progress
from infra.components.packaging import PROJECT_ROOT
from infra.plan_diff.snapshot import RESOURCES_FILE
from infra.sandbox.program import ProgramError

SYNTH_TIMEOUT_S = 600


class RevisionSynthError(ProgramError):
    """A revision's own synth failed (exit 1): the message names the revision and its error."""


@dataclass(frozen=True)
class Source:
    """One side of the diff: a directory of synth output, or a commit to synth."""

    argument: str
    directory: Path | None = None
    commit: str | None = None

    @property
    def label(self) -> str:
        """What the comment calls it: ``main (35c8fc2)`` or the directory."""
        if self.commit is None:
            return self.argument
        if self.commit.startswith(self.argument.lower()):  # a SHA, maybe in full: its first 7
            return self.commit[:7]
        return f"{self.argument} ({self.commit[:7]})"


def _git(*args: str, repo: Path = PROJECT_ROOT) -> subprocess.CompletedProcess | None:
    """``git -C repo args…`` (None if git is not installed)."""
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None


def commit_of(argument: str, repo: Path = PROJECT_ROOT) -> str | None:
    """The commit ``argument`` names in ``repo`` (None if it names none, or ``repo`` is no repository)."""
    if not argument or argument.startswith("-"):
        return None
    done = _git("rev-parse", "--verify", "--quiet", f"{argument}^{{commit}}", repo=repo)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.decode().strip() or None


def resolve(argument: str, repo: Path = PROJECT_ROOT) -> Source:
    """``argument`` as a synth directory or a revision; UsageError if it is both, or neither."""
    path = Path(argument)
    is_output = path.is_dir() and (path / RESOURCES_FILE).is_file()
    commit = commit_of(argument, repo)
    if is_output and commit:
        raise UsageError(
            f"{argument!r} is both a synth output directory and a git revision ({commit[:7]}): "
            f"write ./{argument} for the directory or {argument}^{{commit}} for the revision"
        )
    if is_output:
        return Source(argument, directory=path)
    if commit:
        return Source(argument, commit=commit)
    if path.is_dir():
        raise UsageError(f"{argument!r} is a directory but not synth output (no {RESOURCES_FILE}), nor a git revision")
    found = _git("rev-parse", "--git-dir", repo=repo)
    where = "this repository" if found is not None and found.returncode == 0 else f"{repo} (no git repository)"
    raise UsageError(f"{argument!r} is neither a synth output directory nor a git revision of {where}")


def _inside(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's ``data`` filter, but a member it refuses is skipped (old commits tracked a ``.venv`` link)."""
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError:
        return None


def _export(commit: str, into: Path, repo: Path) -> None:
    """The tree of ``commit`` written into ``into`` (``git archive``, no checkout)."""
    with subprocess.Popen(
        ["git", "-C", str(repo), "archive", "--format=tar", commit], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as archive:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(into, filter=_inside)
        error = archive.stderr.read().decode(errors="replace")
    if archive.returncode != 0:
        raise RevisionSynthError(f"git archive {commit[:7]} failed: {one_line(error, 300)}")


def _synth_command(stack: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "infra", "--stack", stack, "synth", "--out", str(out)]


def _environment() -> dict[str, str]:
    # The copy's own modules, not this checkout's: nothing on PYTHONPATH may shadow them.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STEPWORKS_DEBUG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _failure(source: Source, process: subprocess.Popen, stderr: str) -> RevisionSynthError:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    said = (errors or lines or ["(no message)"])[-1]
    return RevisionSynthError(
        f"synth of revision {source.label} failed (exit {process.returncode}): {one_line(said, 400)}"
    )


@contextlib.contextmanager
def synthesized(sources: list[Source], stack: str, repo: Path = PROJECT_ROOT) -> Iterator[list[Path]]:
    """Each source's synth output directory, revisions synthed (in parallel) into temporary ones."""
    with tempfile.TemporaryDirectory(prefix="stepworks-diff-") as scratch:
        running: list[tuple[Source, subprocess.Popen, Path]] = []
        outputs: list[Path] = []
        try:
            for index, source in enumerate(sources):
                if source.directory is not None:
                    outputs.append(source.directory)
                    continue
                tree, out = Path(scratch) / f"tree-{index}", Path(scratch) / f"synth-{index}"
                tree.mkdir()
                _export(source.commit, tree, repo)
                progress(f"synthing revision {source.label} (stack {stack}) …")
                process = subprocess.Popen(
                    _synth_command(stack, out),
                    cwd=tree,
                    env=_environment(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                )
                running.append((source, process, out))
                outputs.append(out)
            for source, process, _ in running:
                try:
                    _, stderr = process.communicate(timeout=SYNTH_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()
                    raise RevisionSynthError(
                        f"synth of revision {source.label} took over {SYNTH_TIMEOUT_S} s; stopped"
                    ) from None
                if process.returncode != 0:
                    raise _failure(source, process, stderr)
            yield outputs
        finally:
            for _, process, _ in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
