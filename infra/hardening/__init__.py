"""Hardening rule pack: named rules over every resource the program declares, exemptions with reasons.

``check(resources, account_id, region)`` runs every rule of ``RULES`` and returns a ``Report``;
``python -m infra check`` runs it over the program under recording mocks.
"""

from infra.hardening.model import Exempted, Exemption, Finding, Report, Rule, RuleResult, Selector
from infra.hardening.rules import RULES, rule
from infra.hardening.runner import check

__all__ = ["RULES", "Exempted", "Exemption", "Finding", "Report", "Rule", "RuleResult", "Selector", "check", "rule"]
