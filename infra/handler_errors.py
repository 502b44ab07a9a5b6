"""Which retryable errors a handler can raise, read from the code (for the test that ties retries to handlers).

Starting at the handler function, follow every reference to a function or class defined under
``pipelines`` (a call, a decorator, a callback passed along; a class brings all its methods;
``self.x`` inside a method brings that method), and collect the classes of every ``raise X(...)``
reached. That over-approximates what can happen at run time (a branch never taken still counts)
but never imports another pipeline's errors by accident: only code the handler can reach counts.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from types import ModuleType

from infra import source_ast
from pipelines.common.errors import RetryableError

PACKAGE = "pipelines"


def _is_ours(obj: object, package: str) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return module == package or module.startswith(f"{package}.")


def _source_tree(obj) -> ast.AST | None:
    try:
        return source_ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return None


def _resolve(node: ast.AST, namespace: dict, owner: type | None, package: str) -> object | None:
    """The object a Name / dotted Attribute names in ``namespace`` (``self.x`` → ``owner.x``)."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") and owner is not None:
            return getattr(owner, node.attr, None)
        base = _resolve(node.value, namespace, owner, package)
        if isinstance(base, ModuleType) or (isinstance(base, type) and _is_ours(base, package)):
            return getattr(base, node.attr, None)
    return None


def _class_of(obj) -> type | None:
    qualname = getattr(obj, "__qualname__", "")
    if "." not in qualname:
        return None
    owner = getattr(inspect.getmodule(obj), qualname.split(".")[0], None)
    return owner if isinstance(owner, type) else None


def _walk(obj, package: str) -> Iterator[tuple[str, object]]:
    """("raise", class) and ("ref", object) for one function or class body."""
    tree = _source_tree(obj)
    if tree is None:
        return
    module = inspect.getmodule(obj)
    namespace = vars(module) if module else {}
    owner = obj if isinstance(obj, type) else _class_of(obj)
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            raised = _resolve(target, namespace, owner, package)
            if isinstance(raised, type) and issubclass(raised, BaseException):
                yield "raise", raised
        elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            referenced = _resolve(node, namespace, owner, package)
            if referenced is not None and callable(referenced) and _is_ours(referenced, package):
                yield "ref", referenced


def _members(cls: type) -> list[Callable]:
    return [m for m in vars(cls).values() if inspect.isfunction(m) or isinstance(m, (staticmethod, classmethod))]


@cache
def raisable(handler: str, package: str = PACKAGE) -> frozenset[type]:
    """Every exception class a ``raise`` reachable from ``handler`` (``module.function``) names."""
    module_name, _, function_name = handler.rpartition(".")
    start = inspect.unwrap(getattr(importlib.import_module(module_name), function_name))
    seen: set[int] = set()
    raised: set[type] = set()
    frontier: list[object] = [start]
    while frontier:
        obj = frontier.pop()
        obj = obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else inspect.unwrap(obj)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            frontier.extend(_members(obj))
        for kind, value in _walk(obj, package):
            if kind == "raise":
                raised.add(value)
            elif not (isinstance(value, type) and issubclass(value, BaseException)):
                frontier.append(value)
    return frozenset(raised)


def retryable_errors(handler: str, package: str = PACKAGE) -> frozenset[str]:
    """Names of the ``RetryableError`` subclasses ``handler`` can raise (its ASL ``ErrorEquals``)."""
    return frozenset(e.__name__ for e in raisable(handler, package) if issubclass(e, RetryableError))
