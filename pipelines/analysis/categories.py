"""Product categories from a setting: category name → product-id prefixes, the longest prefix wins.

Catalogues encode the category in the product id (``BAK-0042``, ``BAK-GF-0007``), so a prefix
table is all the configuration needs; the longest match lets a sub-range (``BAK-GF-``) be its own
category inside a wider one (``BAK-``). A prefix claimed by two categories is refused rather than
resolved by order: a setting whose meaning depends on dict order would change silently when
someone reorders it. A product no prefix matches is ``uncategorised``, a name no setting may use,
so that bucket always means "not configured".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

UNCATEGORISED = "uncategorised"


@dataclass(frozen=True)
class CategoryMap:
    """Category names and their product-id prefixes; build it with ``from_setting``."""

    names: tuple[str, ...]
    prefixes: Mapping[str, str]  # prefix → category
    # Distinct prefix lengths, longest first: a lookup tries one slice per length, not every prefix.
    lengths: tuple[int, ...]

    @classmethod
    def from_setting(cls, mapping: Mapping[str, Any]) -> CategoryMap:
        """The map of ``{category: [prefix, …]}``; ValueError naming the category or prefix at fault."""
        if not isinstance(mapping, Mapping):
            raise ValueError(f"categories: expected a mapping of category → prefixes, got {type(mapping).__name__}")
        prefixes: dict[str, str] = {}
        for name, claimed in mapping.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"categories: a category name must be a non-empty string, got {name!r}")
            if name == UNCATEGORISED:
                raise ValueError(f"categories: {UNCATEGORISED!r} is reserved for products no prefix matches")
            if isinstance(claimed, str) or not isinstance(claimed, list | tuple):
                raise ValueError(f"categories: {name}: expected a list of prefixes, got {claimed!r}")
            for prefix in claimed:
                if not isinstance(prefix, str):
                    raise ValueError(f"categories: {name}: prefix {prefix!r} is not a string")
                if not prefix:
                    raise ValueError(f"categories: {name}: an empty prefix would claim every product")
                owner = prefixes.setdefault(prefix, name)
                if owner != name:
                    raise ValueError(f"categories: prefix {prefix!r} is claimed by both {owner} and {name}")
        lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
        return cls(tuple(sorted(mapping)), MappingProxyType(prefixes), lengths)

    def category_of(self, product_id: str) -> str:
        """The category of the longest prefix of ``product_id`` in the map; ``uncategorised`` if none."""
        prefixes = self.prefixes
        for length in self.lengths:
            if length <= len(product_id):
                name = prefixes.get(product_id[:length])
                if name is not None:
                    return name
        return UNCATEGORISED

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every category a product can fall in: the configured ones (sorted), then ``uncategorised``."""
        return (*self.names, UNCATEGORISED)
