"""Function code archive and the dependency layers, built for the Lambda platform.

The code archive holds the ``pipelines`` package only: no tests, no infra, no caches.

Each function gets only the third-party packages its handler's code imports
(``dependencies.handler_requirements``). ``LayerCatalog`` creates one ``DependencyLayer`` per
distinct set of requirement lines. A layer holds manylinux wheels for the configured Python
version and architecture (``pip --only-binary``), with every transitive dependency held to the
pins of ``pipelines/requirements.txt``, and is cached under ``.build/layers`` by a hash of its
inputs, so a second ``pulumi preview`` does no work.

Only the sandbox and synth skip the build, in-process (``layer_builds_skipped``): nothing in
the environment of ``pulumi up`` can make it deploy a layer that was not built.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.components.dependencies import (
    LAMBDA_REQUIREMENTS,
    PIPELINES_DIR,
    PROJECT_ROOT,
    PackagingError,
    constraints_text,
    handler_requirements,
)

LAYER_CACHE_DIR = PROJECT_ROOT / ".build" / "layers"

# Lambda unzips a function plus its layers into at most 250 MB.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

# A layer version's description is limited to 256 characters.
_MAX_LAYER_DESCRIPTION = 256

_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}

_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# glibc of the OS each runtime runs on: python3.11 on Amazon Linux 2 (2.26), python3.12 and
# later on Amazon Linux 2023 (2.34). A wheel for a newer glibc would fail to import in Lambda.
_GLIBC_BY_PYTHON = {"3.11": (2, 26)}
_DEFAULT_GLIBC = (2, 34)


# --- the skip switch (sandbox and synth only) ---------------------------------------------------

# In-process state only: the sandbox and synth set it around their run of the program, where
# handlers run in the host interpreter and never from a layer.
_builds_skipped: contextvars.ContextVar[bool] = contextvars.ContextVar("stepworks_layer_builds_skipped", default=False)


@contextmanager
def layer_builds_skipped() -> Iterator[None]:
    """Within the block, dependency layers record their inputs instead of being built."""
    token = _builds_skipped.set(True)
    try:
        yield
    finally:
        _builds_skipped.reset(token)


def layer_builds_are_skipped() -> bool:
    """Whether the current code runs inside ``layer_builds_skipped``."""
    return _builds_skipped.get()


# --- the code archive ---------------------------------------------------------------------------


def platform_tags(python_version: str, architecture: str) -> list[str]:
    """The manylinux tags a wheel may carry to run on the runtime's OS, newest first."""
    major, newest = _GLIBC_BY_PYTHON.get(python_version, _DEFAULT_GLIBC)
    machine = _MACHINES[architecture]
    return [f"manylinux_{major}_{minor}_{machine}" for minor in range(newest, 16, -1)] + [f"manylinux2014_{machine}"]


def code_files(root: Path = PIPELINES_DIR) -> list[Path]:
    """Every file that belongs in the function archive, sorted for a stable archive hash."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _EXCLUDED_DIRS and not d.startswith("."))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.suffix not in _EXCLUDED_SUFFIXES:
                files.append(path)
    return files


def code_archive(root: Path = PIPELINES_DIR) -> pulumi.AssetArchive:
    """The function code: the ``pipelines`` package, paths relative to the archive root."""
    base = root.parent
    return pulumi.AssetArchive({str(path.relative_to(base)): pulumi.FileAsset(str(path)) for path in code_files(root)})


def code_size(root: Path = PIPELINES_DIR) -> int:
    """Bytes the function code takes once unzipped."""
    return sum(path.stat().st_size for path in code_files(root))


# --- building a layer ---------------------------------------------------------------------------


def python_version_of(runtime: str) -> str:
    """``python3.12`` → ``3.12``."""
    return runtime.removeprefix("python")


def layer_inputs_hash(lines: Sequence[str], constraints: str, python_version: str, architecture: str) -> str:
    """Hash of everything a layer's contents depend on."""
    digest = hashlib.sha256()
    digest.update("\n".join(sorted(lines)).encode())
    digest.update(b"\0")
    digest.update(constraints.encode())
    digest.update(f"|{python_version}|{architecture}|".encode())
    return digest.hexdigest()[:16]


def layer_set_id(lines: Sequence[str]) -> str:
    """8 hex naming a set by its packages (not their pins): a version bump publishes a new version of the same layer."""
    names = sorted(re.split(r"\s*(?:==|;)", line, maxsplit=1)[0].lower() for line in lines)
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:8]


def _pip_failure(stderr: str, returncode: int) -> str:
    errors = [line.removeprefix("ERROR: ").strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    if not errors:
        errors = [line.strip() for line in stderr.splitlines() if line.strip()][-1:]
    text = " / ".join(errors) or f"pip exited with status {returncode}"
    return text if len(text) <= 600 else f"{text[:597]}..."


def build_layer_zip(
    lines: Sequence[str],
    python_version: str,
    architecture: str,
    requirements: Path = LAMBDA_REQUIREMENTS,
    cache_dir: Path = LAYER_CACHE_DIR,
) -> Path:
    """Build (or reuse) the layer zip of one requirement set for the Lambda platform; returns its path."""
    if not lines:
        raise PackagingError("a dependency layer needs at least one requirement")
    constraints = constraints_text(requirements)
    digest = layer_inputs_hash(lines, constraints, python_version, architecture)
    target_zip = cache_dir / f"deps-{python_version}-{architecture}-{digest}.zip"
    if target_zip.exists():
        return target_zip
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stepworks-layer-") as tmp:
        work = Path(tmp)
        (work / "requirements.txt").write_text("".join(f"{line}\n" for line in sorted(lines)))
        (work / "constraints.txt").write_text(constraints)
        site = work / "python"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",
                "--target",
                str(site),
                *[arg for tag in platform_tags(python_version, architecture) for arg in ("--platform", tag)],
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--only-binary=:all:",
                "--requirement",
                str(work / "requirements.txt"),
                "--constraint",
                str(work / "constraints.txt"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PackagingError(
                f"building the dependency layer of {', '.join(sorted(lines))} for python{python_version} "
                f"{architecture} failed: {_pip_failure(result.stderr, result.returncode)}"
            )
        partial = target_zip.with_suffix(f".{os.getpid()}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(site.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(work))
        shutil.move(partial, target_zip)  # only a complete zip ever gets the cached name
    return target_zip


def unzipped_size(zip_path: Path) -> int:
    """Bytes the archive takes once unzipped."""
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def dependency_layer_archive(
    lines: Sequence[str], runtime: str, architecture: str, requirements: Path = LAMBDA_REQUIREMENTS
) -> pulumi.Archive:
    """The layer archive: built for real, or (inside ``layer_builds_skipped``) a record of its inputs."""
    python_version = python_version_of(runtime)
    if layer_builds_are_skipped():
        digest = layer_inputs_hash(lines, constraints_text(requirements), python_version, architecture)
        listed = "".join(f"{line}\n" for line in sorted(lines))
        return pulumi.AssetArchive(
            {
                "python/LAYER-NOT-BUILT.txt": pulumi.StringAsset(
                    f"dependency layer not built (sandbox or synth run); inputs {digest}\n{listed}"
                ),
            }
        )
    return pulumi.FileArchive(str(build_layer_zip(lines, python_version, architecture, requirements)))


# --- the components -----------------------------------------------------------------------------


def layer_description(lines: Sequence[str], runtime: str, architecture: str) -> str:
    """What the layer holds, within the 256 characters Lambda allows."""
    text = f"stepworks dependencies ({runtime}, {architecture}): {', '.join(sorted(lines))}"
    return text if len(text) <= _MAX_LAYER_DESCRIPTION else f"{text[: _MAX_LAYER_DESCRIPTION - 1]}…"


@dataclass(frozen=True)
class DependencyLayerArgs:
    """One set of requirement lines, built for one runtime and architecture."""

    requirements: tuple[str, ...]
    runtime: str
    architecture: str
    requirements_file: Path = LAMBDA_REQUIREMENTS


class DependencyLayer(pulumi.ComponentResource):
    """A Lambda layer holding one set of third-party packages (and their dependencies)."""

    def __init__(self, name: str, args: DependencyLayerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:DependencyLayer", name, None, opts)
        self.requirements = args.requirements
        self.layer = aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=name,
            description=layer_description(args.requirements, args.runtime, args.architecture),
            code=dependency_layer_archive(args.requirements, args.runtime, args.architecture, args.requirements_file),
            compatible_runtimes=[args.runtime],
            compatible_architectures=[args.architecture],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.layer.arn
        self.register_outputs({"arn": self.arn})


class LayerCatalog:
    """The stack's dependency layers: one per distinct requirement set, created when a handler first needs it."""

    def __init__(
        self,
        name_prefix: str,
        runtime: str,
        architecture: str,
        root: Path = PIPELINES_DIR,
        requirements: Path = LAMBDA_REQUIREMENTS,
    ):
        self.name_prefix = name_prefix
        self.runtime = runtime
        self.architecture = architecture
        self.root = root
        self.requirements = requirements
        self.layers: dict[tuple[str, ...], DependencyLayer] = {}

    def requirements_for(self, handler: str) -> tuple[str, ...]:
        """The requirement lines the handler's code imports."""
        return handler_requirements(handler, self.root, self.requirements)

    def layers_for(self, handler: str) -> list[pulumi.Output[str]]:
        """The layer ARNs a function with this handler needs ([] when it imports no third-party package)."""
        lines = self.requirements_for(handler)
        if not lines:
            return []
        layer = self.layers.get(lines)
        if layer is None:
            layer = DependencyLayer(
                f"{self.name_prefix}-deps-{layer_set_id(lines)}",
                DependencyLayerArgs(lines, self.runtime, self.architecture, self.requirements),
            )
            self.layers[lines] = layer
        return [layer.arn]
