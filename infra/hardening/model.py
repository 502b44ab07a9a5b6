"""The rule pack's vocabulary: rules, exemptions as data, findings and the report.

A rule checks one property over every declared resource of the types it names and yields
``(resource, message)`` for each resource that lacks it. An exemption is data: a selector (a
resource type, a logical-name pattern and optionally a predicate over the resource's properties)
and the written reason. A finding whose resource an exemption of the same rule selects is
reported as exempted with that reason, never dropped.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from infra.sandbox.mocks import DeclaredResource

if TYPE_CHECKING:
    from infra.hardening.index import Index


def label(resource: DeclaredResource) -> str:
    """``<type> <logical name>``: how a report names a resource."""
    return f"{resource.typ} {resource.name}"


@dataclass(frozen=True)
class Selector:
    """Resources of ``typ`` whose logical name matches ``name`` (a glob) and, if given, ``where``."""

    typ: str
    describe: str
    name: str = "*"
    where: Callable[[DeclaredResource, Index], bool] | None = None

    def matches(self, resource: DeclaredResource, index: Index) -> bool:
        """True when this selector picks ``resource``."""
        if resource.typ != self.typ or not fnmatch.fnmatchcase(resource.name, self.name):
            return False
        return self.where is None or bool(self.where(resource, index))


@dataclass(frozen=True)
class Exemption:
    """Resources a rule does not hold to its property, and why."""

    selector: Selector
    reason: str


Check = Callable[["Index"], Iterable[tuple[DeclaredResource, str]]]


@dataclass(frozen=True)
class Rule:
    """One named property every resource of ``types`` must have."""

    id: str
    name: str
    description: str
    types: tuple[str, ...]
    check: Check
    exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A resource that lacks a rule's property."""

    rule: str
    resource: DeclaredResource
    message: str

    def __str__(self) -> str:
        return f"{self.rule} {label(self.resource)}: {self.message}"


@dataclass(frozen=True)
class Exempted:
    """A resource that lacks a rule's property and is exempted, with the exemption's reason."""

    rule: str
    resource: DeclaredResource
    message: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule} {label(self.resource)}: exempted: {self.reason}"


@dataclass
class RuleResult:
    """What one rule found: how many resources it checked, findings, exemptions, or its own error."""

    rule: Rule
    checked: int
    findings: list[Finding] = field(default_factory=list)
    exempted: list[Exempted] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """No finding and the rule ran."""
        return not self.findings and self.error is None

    def summary(self) -> str:
        """``pass`` / ``N findings`` / ``N exempted`` / ``error`` in a few words."""
        if self.error is not None:
            return "error"
        parts = []
        if self.findings:
            parts.append(f"{len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}")
        else:
            parts.append("pass" if self.checked else "pass (nothing to check)")
        if self.exempted:
            parts.append(f"{len(self.exempted)} exempted")
        return ", ".join(parts)


@dataclass
class Report:
    """Every rule's result over one program."""

    results: list[RuleResult]

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every rule."""
        return [f for r in self.results for f in r.findings]

    @property
    def exempted(self) -> list[Exempted]:
        """Every exempted resource of every rule."""
        return [e for r in self.results for e in r.exempted]

    @property
    def errors(self) -> list[str]:
        """Rules that could not run, with why."""
        return [f"{r.rule.id}: {r.error}" for r in self.results if r.error is not None]

    @property
    def ok(self) -> bool:
        """No findings and no rule errors."""
        return all(r.ok for r in self.results)

    def result(self, rule_id: str) -> RuleResult:
        """The result of one rule."""
        (found,) = [r for r in self.results if r.rule.id == rule_id]
        return found

    def lines(self) -> list[str]:
        """The report as text: one line per rule, then its findings and exemptions indented."""
        width = max((len(r.rule.id) for r in self.results), default=0)
        name_width = max((len(r.rule.name) for r in self.results), default=0)
        out = []
        for result in self.results:
            out.append(f"{result.rule.id.ljust(width)}  {result.rule.name.ljust(name_width)}  {result.summary()}")
            if result.error is not None:
                out.append(f"    error: {result.error}")
            out += [f"    {label(f.resource)}: {f.message}" for f in result.findings]
            by_reason: dict[str, list[str]] = {}
            for exempted in result.exempted:
                by_reason.setdefault(exempted.reason, []).append(label(exempted.resource))
            for reason, labels in by_reason.items():
                out.append(f"    exempted ({len(labels)}): {reason}")
                out += [f"        {x}" for x in labels]
        return out


class RuleSet(list):
    """The rules of one module, registered by decorating their check functions."""

    def rule(
        self,
        rule_id: str,
        name: str,
        description: str,
        types: Iterable[str],
        exemptions: Iterable[Exemption] = (),
    ) -> Callable[[Check], Check]:
        """Register the decorated check as rule ``rule_id``."""

        def register(check: Check) -> Check:
            self.append(Rule(rule_id, name, description, tuple(types), check, tuple(exemptions)))
            return check

        return register
