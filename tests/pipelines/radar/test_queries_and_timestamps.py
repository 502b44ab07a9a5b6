"""The query registry, RADAR_QUERIES parsing, and the run timestamp's normal form."""

from __future__ import annotations

import pytest

from pipelines.common.errors import ConfigurationError, InvalidInputError
from pipelines.common.timestamps import normalise_timestamp
from pipelines.radar.queries import QUERIES, parse_query_names, required_params


def test_each_query_fills_its_path_and_parameters_from_connector_params():
    params = {"domain": "example.com", "location": "US", "asn": "13335"}
    assert QUERIES["ranking"].request(params) == (
        "/radar/ranking/domain/example.com",
        [("includeTopLocations", "true"), ("limit", "5"), ("format", "json")],
    )
    assert QUERIES["device_type"].request(params) == (
        "/radar/http/summary/device_type",
        [("location", "US"), ("dateRange", "7d"), ("format", "json")],
    )
    assert QUERIES["asn"].request(params) == ("/radar/entities/asns/13335", [("format", "json")])


def test_path_values_are_percent_encoded():
    assert QUERIES["ranking"].request({"domain": "a/../b"})[0] == "/radar/ranking/domain/a%2F..%2Fb"


def test_query_names_parse_in_order_without_duplicates_and_needs_follow_them():
    names = parse_query_names('["asn", "ranking", "asn"]')
    assert names == ("asn", "ranking")
    assert required_params(names) == ("asn", "domain")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ranking", "JSON list"),
        ("[]", "non-empty"),
        ('{"q": "ranking"}', "non-empty"),
        ('["ranking", "traffic"]', "unknown queries \\['traffic'\\]"),
    ],
)
def test_bad_radar_queries_setting_is_a_configuration_error(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_query_names(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-22T06:00:00Z", "2026-11-22T06:00:00Z"),
        ("2026-11-22T06:00:00.123Z", "2026-11-22T06:00:00Z"),  # $$.Execution.StartTime has millis
        ("2026-11-22T07:00:00+01:00", "2026-11-22T06:00:00Z"),
        (" 2026-11-22T06:00:00z ", "2026-11-22T06:00:00Z"),
    ],
)
def test_timestamps_normalise_to_utc_whole_seconds(raw, expected):
    assert normalise_timestamp(raw) == expected


@pytest.mark.parametrize("raw", [None, "", 1763791200, "yesterday", "2026-11-22T06:00:00"])
def test_timestamps_without_zone_or_unparseable_are_invalid_input_naming_the_field(raw):
    with pytest.raises(InvalidInputError) as raised:
        normalise_timestamp(raw)
    assert raised.value.field == "timestamp"
