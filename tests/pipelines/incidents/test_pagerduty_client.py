"""The PagerDuty client against the loopback fake: paging, 429s, 401, the 10,000 offset cap."""

from datetime import datetime, timedelta, timezone

import pytest

from infra.sandbox.fakes.pagerduty import PagerDutyFake, generate_incidents
from pipelines.common.errors import RateLimitedError, UpstreamAuthError, UpstreamUnavailableError
from pipelines.common.http import retrying_session
from pipelines.incidents.errors import UpstreamRejectedError
from pipelines.incidents.pagerduty import ACCEPT, Filters, PagerDutyClient
from pipelines.incidents.window import TimeWindow

from .conftest import SINCE, UNTIL

WINDOW = TimeWindow(SINCE, UNTIL)


class Sleeps(list):
    """A sleep that records instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


def client_for(fake: PagerDutyFake, token: str | None = None, sleep=None, **kwargs) -> PagerDutyClient:
    return PagerDutyClient(fake.url, token or fake.token, sleep=Sleeps() if sleep is None else sleep, **kwargs)


def ids(pages) -> list[str]:
    return [incident["id"] for page in pages for incident in page]


def test_pages_through_every_incident_in_order_with_the_documented_headers(pagerduty):
    pagerduty.add_incidents(generate_incidents(250, SINCE, UNTIL))
    pages = list(client_for(pagerduty).iter_pages(WINDOW, Filters()))
    assert [len(page) for page in pages] == [100, 100, 50]
    assert ids(pages) == [i["id"] for i in pagerduty.incidents]
    first, *rest = pagerduty.requests
    assert first.headers["authorization"] == f"Token token={pagerduty.token}"
    assert first.headers["accept"] == ACCEPT
    assert first.query["total"] == ["true"] and all("total" not in r.query for r in rest)
    assert [r.query["offset"] for r in pagerduty.requests] == [["0"], ["100"], ["200"]]
    assert first.query["since"] == ["2026-03-01T00:00:00Z"] and first.query["until"] == ["2026-03-02T00:00:00Z"]


def test_count_asks_for_the_total_of_the_window(pagerduty):
    pagerduty.add_incidents(generate_incidents(120, SINCE, UNTIL))
    pagerduty.add_incidents(generate_incidents(5, UNTIL, UNTIL + timedelta(hours=1), seed=1))  # outside
    assert client_for(pagerduty).count(WINDOW, Filters()) == 120


def test_filters_are_sent_as_repeated_array_parameters(pagerduty):
    pagerduty.add_incidents(generate_incidents(60, SINCE, UNTIL))
    filters = Filters(statuses=("triggered", "acknowledged"), service_ids=("PSVC002",))
    incidents = [i for page in client_for(pagerduty).iter_pages(WINDOW, filters) for i in page]
    assert incidents and all(i["status"] in filters.statuses and i["service"]["id"] == "PSVC002" for i in incidents)
    assert pagerduty.requests[0].query["statuses[]"] == ["triggered", "acknowledged"]
    assert pagerduty.requests[0].query["service_ids[]"] == ["PSVC002"]


def test_a_429_waits_for_ratelimit_reset_then_succeeds(pagerduty):
    pagerduty.add_incidents(generate_incidents(10, SINCE, UNTIL))
    pagerduty.rate_limit_next(reset=1)
    sleeps = Sleeps()
    pages = list(client_for(pagerduty, sleep=sleeps).iter_pages(WINDOW, Filters()))
    assert sleeps == [1.0]
    assert len(ids(pages)) == 10
    assert len(pagerduty.requests) == 2


def test_a_real_one_second_wait_is_honoured(pagerduty):
    import time

    pagerduty.add_incidents(generate_incidents(3, SINCE, UNTIL))
    pagerduty.rate_limit_next(reset=1)
    started = time.monotonic()
    assert PagerDutyClient(pagerduty.url, pagerduty.token).count(WINDOW, Filters()) == 3
    assert time.monotonic() - started >= 1.0


def test_a_rate_limit_longer_than_a_minute_is_left_to_the_state_machine(pagerduty):
    pagerduty.rate_limit_next(reset=600)
    with pytest.raises(RateLimitedError) as caught:
        client_for(pagerduty).count(WINDOW, Filters())
    assert caught.value.retry_after == 600


def test_a_wrong_token_is_an_upstream_auth_error(pagerduty):
    with pytest.raises(UpstreamAuthError, match="401"):
        client_for(pagerduty, token="wrong").count(WINDOW, Filters())


def test_server_errors_after_retries_are_retryable(pagerduty):
    pagerduty.fail_next(503, times=2)
    client = PagerDutyClient(pagerduty.url, pagerduty.token, session=retrying_session(total=1, backoff_factor=0))
    with pytest.raises(UpstreamUnavailableError, match="503"):
        client.count(WINDOW, Filters())


def test_transient_server_errors_are_retried_by_the_session(pagerduty):
    pagerduty.add_incidents(generate_incidents(4, SINCE, UNTIL))
    pagerduty.fail_next(503, times=1)
    client = PagerDutyClient(pagerduty.url, pagerduty.token, session=retrying_session(total=2, backoff_factor=0))
    assert client.count(WINDOW, Filters()) == 4


def test_an_unreachable_api_is_retryable():
    client = PagerDutyClient("http://127.0.0.1:9", "token", session=retrying_session(total=0))
    with pytest.raises(UpstreamUnavailableError, match="unreachable"):
        client.count(WINDOW, Filters())


def test_more_than_10000_incidents_are_fetched_by_splitting_the_window(pagerduty):
    pagerduty.add_incidents(generate_incidents(12_000, SINCE, UNTIL))
    client = client_for(pagerduty)
    fetched = ids(client.iter_pages(WINDOW, Filters()))
    assert len(fetched) == 12_000 and set(fetched) == {i["id"] for i in pagerduty.incidents}
    assert client.windows_fetched == 2
    offsets = [int(r.query["offset"][0]) + int(r.query["limit"][0]) for r in pagerduty.requests]
    assert max(offsets) <= 10_000
    assert pagerduty.requests[0].query["total"] == ["true"]


def test_a_window_that_grows_past_the_cap_while_paging_is_split_and_refetched(pagerduty):
    # PagerDuty said 9,950 at first; 100 more arrive while we page (total no longer fits).
    pagerduty.add_incidents(generate_incidents(9_950, SINCE, UNTIL))
    late = generate_incidents(100, SINCE + timedelta(seconds=1), UNTIL, seed=9, first_number=50_000)

    def arrive(request):
        if request.query.get("offset") == ["100"] and late:
            pagerduty.add_incidents(late[:])
            late.clear()

    pagerduty.on_request = arrive
    client = client_for(pagerduty)
    fetched = ids(client.iter_pages(WINDOW, Filters()))
    assert set(fetched) == {i["id"] for i in pagerduty.incidents}
    assert len(set(fetched)) == 10_050
    assert client.windows_fetched == 3  # the first, abandoned at the cap, then its two halves


def test_a_one_second_window_over_the_cap_cannot_be_split(pagerduty):
    moment = SINCE
    pagerduty.add_incidents(generate_incidents(10_001, moment, moment + timedelta(microseconds=500)))
    narrow = TimeWindow(moment, moment + timedelta(seconds=1))
    with pytest.raises(UpstreamRejectedError, match="too narrow"):
        list(client_for(pagerduty).iter_pages(narrow, Filters()))


def test_an_empty_window_yields_one_empty_page(pagerduty):
    assert list(client_for(pagerduty).iter_pages(WINDOW, Filters())) == [[]]


def test_since_until_are_sent_in_utc():
    window = TimeWindow(datetime(2026, 3, 1, 1, tzinfo=timezone(timedelta(hours=1))), UNTIL)
    assert window.as_params()["since"] == "2026-03-01T00:00:00Z"
