"""Python source parsed once per process, guarded against a CPython 3.11 ``ast.parse`` bug.

The program reads handler code (to derive dependency layers and reachable errors) every time it
runs, and the tests run it dozens of times in one process. CPython 3.11.7 (the version CI has) can
fail a valid ``ast.parse`` with ``SystemError: AST constructor recursion depth mismatch`` when a
garbage collection runs during the conversion; it was seen here about once in three parallel test
runs. Parsing each source once, and retrying that one error with the collector paused, makes it
harmless; any other error, SyntaxError included, propagates as before.
"""

from __future__ import annotations

import ast
import functools
import gc

_SPURIOUS = "AST constructor recursion depth mismatch"


@functools.lru_cache(maxsize=1024)
def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, cached by content (callers must not mutate the tree)."""
    try:
        return ast.parse(source, filename=filename)
    except SystemError as exc:
        if _SPURIOUS not in str(exc):
            raise
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename=filename)
    finally:
        if enabled:
            gc.enable()
