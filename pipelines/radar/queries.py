"""The Radar queries a pipeline can run, and the connectorParams fields each one needs.

RADAR_QUERIES names a subset of ``QUERIES`` (a JSON list); an organization's connectorParams
fill the placeholders. Adding a query is one entry here plus, if it needs a new field, one
validator in ``PARAM_VALIDATORS``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from pipelines.common.errors import ConfigurationError


@dataclass(frozen=True)
class RadarQuery:
    """One Radar endpoint: a path template and query parameters, both filled from connectorParams."""

    name: str
    path: str
    params: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]

    def request(self, connector_params: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
        """``(path, params)`` for one organization; values are percent-encoded into the path."""
        fields = {name: connector_params[name] for name in self.needs}
        path = self.path.format(**{k: quote(v, safe="") for k, v in fields.items()})
        return path, [(key, value.format(**fields)) for key, value in self.params]


QUERIES: dict[str, RadarQuery] = {
    query.name: query
    for query in (
        RadarQuery(
            "ranking",
            "/radar/ranking/domain/{domain}",
            (("includeTopLocations", "true"), ("limit", "5"), ("format", "json")),
            ("domain",),
        ),
        RadarQuery(
            "device_type",
            "/radar/http/summary/device_type",
            (("location", "{location}"), ("dateRange", "7d"), ("format", "json")),
            ("location",),
        ),
        RadarQuery("asn", "/radar/entities/asns/{asn}", (("format", "json"),), ("asn",)),
    )
}

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LOCATION = re.compile(r"^[A-Z]{2}$")
_ASN = re.compile(r"^[1-9][0-9]{0,9}$")


def _domain(value: object) -> str:
    if not isinstance(value, str) or not _DOMAIN.match(value.strip().lower()):
        raise ValueError("must be a domain name like example.com")
    return value.strip().lower()


def _location(value: object) -> str:
    if not isinstance(value, str) or not _LOCATION.match(value.strip().upper()):
        raise ValueError("must be a two-letter ISO 3166-1 country code like US")
    return value.strip().upper()


def _asn(value: object) -> str:
    # Registries write ASNs as numbers or strings ("AS13335" too); the API wants the bare number.
    text = str(value).strip().upper().removeprefix("AS") if isinstance(value, (str, int)) else ""
    if isinstance(value, bool) or not _ASN.match(text) or int(text) > 4_294_967_295:
        raise ValueError("must be an autonomous system number like 13335")
    return text


# Each validator returns the normalised value or raises ValueError with the reason.
PARAM_VALIDATORS: dict[str, Callable[[object], str]] = {"domain": _domain, "location": _location, "asn": _asn}


def parse_query_names(raw: str) -> tuple[str, ...]:
    """The configured query names from RADAR_QUERIES (a JSON list); ConfigurationError if invalid."""
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigurationError(f"RADAR_QUERIES must be a JSON list of query names, got {raw!r}") from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(f"RADAR_QUERIES must be a non-empty JSON list of names, got {raw!r}")
    unknown = sorted(set(names) - QUERIES.keys())
    if unknown:
        raise ConfigurationError(f"RADAR_QUERIES names unknown queries {unknown}; known: {sorted(QUERIES)}")
    return tuple(dict.fromkeys(names))


def required_params(query_names: tuple[str, ...]) -> tuple[str, ...]:
    """The connectorParams fields the given queries need, in a stable order."""
    return tuple(dict.fromkeys(field for name in query_names for field in QUERIES[name].needs))
