"""Function code archive and the dependency layer, built for the Lambda platform.

The code archive holds the ``pipelines`` package only: no tests, no infra, no caches. The
dependency layer holds the Lambda runtime requirements as manylinux wheels for the configured
Python version and architecture (``pip --only-binary``), and is cached under ``.build/layers``
by a hash of its inputs, so a second ``pulumi preview`` does no work.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pulumi
import pulumi_aws as aws

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINES_DIR = PROJECT_ROOT / "pipelines"
LAMBDA_REQUIREMENTS = PIPELINES_DIR / "requirements.txt"
LAYER_CACHE_DIR = PROJECT_ROOT / ".build" / "layers"

# Set by the sandbox and by synth: the layer's contents never run there (handlers run in the
# host interpreter), so the archive only records what the layer would be built from.
SKIP_LAYER_BUILD_ENV = "STEPWORKS_SKIP_LAYER_BUILD"

# Lambda unzips a function plus its layers into at most 250 MB.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}

_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# glibc of the OS each runtime runs on: python3.11 on Amazon Linux 2 (2.26), python3.12 and
# later on Amazon Linux 2023 (2.34). A wheel for a newer glibc would fail to import in Lambda.
_GLIBC_BY_PYTHON = {"3.11": (2, 26)}
_DEFAULT_GLIBC = (2, 34)


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


def layer_inputs_hash(requirements: Path, python_version: str, architecture: str) -> str:
    """Hash of everything the layer's contents depend on."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"|{python_version}|{architecture}|".encode())
    return digest.hexdigest()[:16]


def python_version_of(runtime: str) -> str:
    """``python3.12`` → ``3.12``."""
    return runtime.removeprefix("python")


def build_layer_zip(
    requirements: Path,
    python_version: str,
    architecture: str,
    cache_dir: Path = LAYER_CACHE_DIR,
) -> Path:
    """Build (or reuse) the dependency layer zip for the Lambda platform; returns its path."""
    target_zip = (
        cache_dir
        / f"deps-{python_version}-{architecture}-{layer_inputs_hash(requirements, python_version, architecture)}.zip"
    )
    if target_zip.exists():
        return target_zip
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stepworks-layer-") as tmp:
        site = Path(tmp) / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
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
                str(requirements),
            ],
            check=True,
        )
        partial = target_zip.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(site.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(tmp))
        shutil.move(partial, target_zip)  # only a complete zip ever gets the cached name
    return target_zip


def unzipped_size(zip_path: Path) -> int:
    """Bytes the archive takes once unzipped."""
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def dependency_layer_archive(runtime: str, architecture: str) -> pulumi.Archive:
    """The layer archive: built for real, or (sandbox, synth) a record of its inputs."""
    python_version = python_version_of(runtime)
    if os.environ.get(SKIP_LAYER_BUILD_ENV):
        digest = layer_inputs_hash(LAMBDA_REQUIREMENTS, python_version, architecture)
        return pulumi.AssetArchive(
            {
                "python/LAYER-NOT-BUILT.txt": pulumi.StringAsset(
                    f"dependency layer not built ({SKIP_LAYER_BUILD_ENV} set); inputs {digest}\n"
                ),
            }
        )
    return pulumi.FileArchive(str(build_layer_zip(LAMBDA_REQUIREMENTS, python_version, architecture)))


class DependencyLayer(pulumi.ComponentResource):
    """The one dependency layer every function of the stack uses."""

    def __init__(self, name: str, runtime: str, architecture: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:DependencyLayer", name, None, opts)
        self.layer = aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=name,
            description=f"stepworks Lambda dependencies ({runtime}, {architecture})",
            code=dependency_layer_archive(runtime, architecture),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.layer.arn
        self.register_outputs({"arn": self.arn})
