"""Function code archive and the dependency layers, built for the Lambda platform.

The code archive holds the ``pipelines`` package only: no tests, no infra, no caches.

Each function gets only the third-party packages its handler's module imports, directly or
through the ``pipelines`` modules it imports: ``handler_requirements`` reads them from the
source (AST, no import) and maps each to its pinned line in ``pipelines/requirements.txt``.
``LayerCatalog`` creates one ``DependencyLayer`` per distinct set of lines. A layer holds
manylinux wheels for the configured Python version and architecture (``pip --only-binary``),
with every transitive dependency held to the pins of ``pipelines/requirements.txt``, and is
cached under ``.build/layers`` by a hash of its inputs, so a second ``pulumi preview`` does no
work.

Only the sandbox and synth skip the build, in-process (``layer_builds_skipped``): nothing in
the environment of ``pulumi up`` can make it deploy a layer that was not built.
"""

from __future__ import annotations

import ast
import contextvars
import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import source_ast

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINES_DIR = PROJECT_ROOT / "pipelines"
LAMBDA_REQUIREMENTS = PIPELINES_DIR / "requirements.txt"
LAYER_CACHE_DIR = PROJECT_ROOT / ".build" / "layers"

# Lambda unzips a function plus its layers into at most 250 MB.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

# Every Python runtime of Lambda ships these; a layered copy would shadow the runtime's own.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})

# A layer version's description is limited to 256 characters.
_MAX_LAYER_DESCRIPTION = 256

_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}

_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# glibc of the OS each runtime runs on: python3.11 on Amazon Linux 2 (2.26), python3.12 and
# later on Amazon Linux 2023 (2.34). A wheel for a newer glibc would fail to import in Lambda.
_GLIBC_BY_PYTHON = {"3.11": (2, 26)}
_DEFAULT_GLIBC = (2, 34)


class PackagingError(pulumi.RunError):
    """The code or a dependency layer cannot be packaged; the message (one line) says why."""


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


# --- requirements -------------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?P<extras>\[[^\]]*\])?\s*"
    r"==\s*(?P<version>[^\s;]+)\s*(?P<marker>;.*)?$"
)


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares it: ``Python_Dateutil`` → ``python-dateutil``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """One pinned line of the requirements file."""

    line: str  # as written, without its comment: ``psycopg[binary]==3.3.9``
    name: str  # normalized distribution name: ``psycopg``
    extras: str  # ``[binary]`` or ``""``
    constraint: str  # the line without extras (pip refuses extras in a constraints file)


def read_requirements(path: Path = LAMBDA_REQUIREMENTS) -> list[Requirement]:
    """The pinned requirements of ``path``; anything but ``name[extras]==version`` is an error.

    Pins are required because a layer is cached by the text of its lines: an unpinned line
    would keep serving whatever version happened to be current at the first build.
    """
    requirements = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        match = _REQUIREMENT.match(line)
        if match is None:
            raise PackagingError(
                f"{_shown(path)}:{number}: {line!r} is not a pinned requirement; "
                "each line must be name[extras]==version (no options, no ranges)"
            )
        marker = f" {match['marker']}" if match["marker"] else ""
        requirements.append(
            Requirement(
                line=line,
                name=normalize_name(match["name"]),
                extras=match["extras"] or "",
                constraint=f"{match['name']}=={match['version']}{marker}",
            )
        )
    return requirements


def constraints_text(requirements: Path = LAMBDA_REQUIREMENTS) -> str:
    """Every line of the requirements file as a pip constraint, so transitive versions keep their pins."""
    return "".join(f"{r.constraint}\n" for r in read_requirements(requirements))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# --- which requirements a handler needs ---------------------------------------------------------


@functools.cache
def _distributions_by_import_name() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import the module can execute, however deeply nested; ``if TYPE_CHECKING:`` bodies excluded."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes_of(other)
        else:
            yield from _import_nodes(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _import_nodes(node)


class _ModuleGraph:
    """The first-party modules reachable from one module, and the third-party names they import."""

    def __init__(self, root: Path, handler: str):
        self.root = root
        self.package = root.name
        self.handler = handler
        self.seen: dict[str, Path] = {}
        self.third_party: dict[str, str] = {}  # top-level import name → first module importing it

    def file_of(self, module: str) -> Path | None:
        parts = module.split(".")
        if parts[0] != self.package:
            return None
        base = self.root.joinpath(*parts[1:])
        for candidate in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None

    def visit(self, module: str, imported_by: str | None) -> None:
        parts = module.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in self.seen:
                continue
            path = self.file_of(name)
            if path is None:
                where = f"{imported_by} imports" if imported_by else "its module is"
                raise PackagingError(
                    f"handler {self.handler}: {where} {module}, which is not a module under {_shown(self.root)}"
                )
            self.seen[name] = path
            self.scan(name, path)

    def scan(self, module: str, path: Path) -> None:
        try:
            tree = source_ast.parse(path.read_bytes(), str(path))
        except SyntaxError as exc:
            raise PackagingError(f"handler {self.handler}: {_shown(path)}:{exc.lineno}: {exc.msg}") from None
        is_package = path.name == "__init__.py"
        for node in _import_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.record(alias.name, module)
                continue
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                if node.level - 1 >= len(package):
                    raise PackagingError(
                        f"handler {self.handler}: {_shown(path)}:{node.lineno}: relative import beyond the top package"
                    )
                base = ".".join(package[: len(package) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            self.record(target, module)
            if target.split(".")[0] == self.package:
                # ``from pipelines.radar import envelope`` imports the submodule when there is one.
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if alias.name != "*" and submodule not in self.seen and self.file_of(submodule):
                        self.visit(submodule, module)

    def record(self, name: str, imported_by: str) -> None:
        top = name.split(".")[0]
        if top == self.package:
            self.visit(name, imported_by)
        elif top not in sys.stdlib_module_names and top not in RUNTIME_PROVIDED and top != "__future__":
            self.third_party.setdefault(top, imported_by)


def third_party_imports(handler: str, root: Path = PIPELINES_DIR) -> dict[str, str]:
    """Top-level third-party names the handler's module imports, transitively: name → importing module."""
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise PackagingError(f"handler {handler!r} is not <module>.<function>")
    graph = _ModuleGraph(root, handler)
    if module.split(".")[0] != graph.package:
        raise PackagingError(f"handler {handler}: its module is not in the {graph.package} package")
    graph.visit(module, None)
    return graph.third_party


def handler_requirements(
    handler: str, root: Path = PIPELINES_DIR, requirements: Path = LAMBDA_REQUIREMENTS
) -> tuple[str, ...]:
    """The lines of ``requirements`` the handler's code imports (sorted); an unlisted import is an error."""
    declared = read_requirements(requirements)
    needed: set[str] = set()
    for name, imported_by in sorted(third_party_imports(handler, root).items()):
        distributions = {normalize_name(d) for d in _distributions_by_import_name().get(name, ())}
        distributions.add(normalize_name(name))
        lines = [r.line for r in declared if r.name in distributions]
        if not lines:
            raise PackagingError(
                f"handler {handler}: {imported_by} imports {name}, which no line of {_shown(requirements)} "
                "provides; add its distribution there, pinned"
            )
        needed.update(lines)
    return tuple(sorted(needed, key=str.lower))


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
