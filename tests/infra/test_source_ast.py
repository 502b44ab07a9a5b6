"""Parsing handler source: once per content, and CPython 3.11.7's spurious SystemError is retried."""

import ast

import pytest

from infra import source_ast


@pytest.fixture(autouse=True)
def fresh_cache():
    source_ast.parse.cache_clear()
    yield
    source_ast.parse.cache_clear()


def test_the_same_source_is_parsed_once():
    first = source_ast.parse("x = 1\n", "a.py")
    assert source_ast.parse("x = 1\n", "a.py") is first
    assert isinstance(first.body[0], ast.Assign)


def test_the_spurious_recursion_depth_error_is_retried_and_other_errors_are_not(monkeypatch):
    real, calls = ast.parse, []

    def flaky(source, filename="<unknown>"):
        calls.append(filename)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=222, after=274)")
        return real(source, filename=filename)

    monkeypatch.setattr(source_ast.ast, "parse", flaky)
    assert isinstance(source_ast.parse("y = 2\n", "b.py"), ast.Module)
    assert calls == ["b.py", "b.py"]

    def broken(source, filename="<unknown>"):
        raise SystemError("something else")

    monkeypatch.setattr(source_ast.ast, "parse", broken)
    with pytest.raises(SystemError, match="something else"):
        source_ast.parse("z = 3\n", "c.py")


def test_a_syntax_error_still_reaches_the_caller():
    with pytest.raises(SyntaxError):
        source_ast.parse("def (:\n", "bad.py")
