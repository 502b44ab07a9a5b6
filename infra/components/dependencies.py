"""Which pinned requirements a handler needs, read from its code.

A function gets only the third-party packages its handler's module imports, directly or through
the ``pipelines`` modules it imports: ``handler_requirements`` reads them from the source (AST,
no import) and maps each to its pinned line in ``pipelines/requirements.txt``. An import no line
provides, or a line that is not pinned, stops the program with one line saying which.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi

from infra import source_ast

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINES_DIR = PROJECT_ROOT / "pipelines"
LAMBDA_REQUIREMENTS = PIPELINES_DIR / "requirements.txt"

# Every Python runtime of Lambda ships these; a layered copy would shadow the runtime's own.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})


class PackagingError(pulumi.RunError):
    """The code or a dependency layer cannot be packaged; the message (one line) says why."""


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


@functools.lru_cache(maxsize=1024)
def _file_imports(path: str, stamp: tuple[int, int]) -> tuple[ast.Import | ast.ImportFrom, ...]:
    # Walking a module's tree is most of a program run's cost when every function's requirements are
    # derived (36 handlers over the same modules): once per file version and process. ``stamp``
    # (mtime, size) makes an edited file read again; a SyntaxError is not cached.
    return tuple(_import_nodes(source_ast.parse(Path(path).read_bytes(), path)))


@functools.lru_cache(maxsize=4096)
def _module_file(root: Path, package: str, module: str) -> Path | None:
    # Asked thousands of times a program run (every handler walks the same modules).
    parts = module.split(".")
    if parts[0] != package:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


class _ModuleGraph:
    """The first-party modules reachable from one module, and the third-party names they import."""

    def __init__(self, root: Path, handler: str):
        self.root = root
        self.package = root.name
        self.handler = handler
        self.seen: dict[str, Path] = {}
        self.third_party: dict[str, str] = {}  # top-level import name → first module importing it

    def file_of(self, module: str) -> Path | None:
        return _module_file(self.root, self.package, module)

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
            imports = _file_imports(str(path), _stamp(path))
        except SyntaxError as exc:
            raise PackagingError(f"handler {self.handler}: {_shown(path)}:{exc.lineno}: {exc.msg}") from None
        is_package = path.name == "__init__.py"
        for node in imports:
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
