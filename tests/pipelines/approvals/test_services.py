"""The release service clients against the loopback fake: retries, backoff on the test clock, typed errors."""

from __future__ import annotations

import hashlib
import random
import socket
from email.utils import formatdate

import pytest

from infra.sandbox.fakes.release_services import DEFAULT_TOKENS, derived_id
from pipelines.approvals import services as svc
from pipelines.approvals.errors import (
    ServiceAuthError,
    ServiceProtocolError,
    ServiceRateLimitedError,
    ServiceRejectedError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from pipelines.common.errors import NonRetryableError, RetryableError

REQUEST = {
    "storyId": "PROJ-7",
    "packages": ["api@1.2.0", "web@3.1.4"],
    "environment": "staging",
    "requester": "alice@example.com",
}
EXECUTION = "arn:aws:states:eu-west-2:123456789012:execution:sw-test-release-approval:run-1"


def client(fake, service, token=None, **session):
    session.setdefault("rng", random.Random(7))
    return svc.ReleaseService(
        service, fake.url_of(service), token or DEFAULT_TOKENS[service], svc.service_session(**session)
    )


def test_the_idempotency_key_is_derived_from_the_execution_and_the_package():
    key = svc.idempotency_key(EXECUTION, "deployment", "api@1.2.0")
    assert key == hashlib.sha256(f"{EXECUTION}|deployment|api@1.2.0".encode()).hexdigest()[:32]
    assert key == svc.idempotency_key(EXECUTION, "deployment", "api@1.2.0")
    assert key != svc.idempotency_key(EXECUTION, "deployment", "web@3.1.4")
    assert key != svc.idempotency_key(EXECUTION + "x", "deployment", "api@1.2.0")
    notification = svc.idempotency_key(EXECUTION, "notification")
    assert notification == hashlib.sha256(f"{EXECUTION}|notification".encode()).hexdigest()[:32]


def test_validation_answers_valid_with_its_checks(services, test_clock):
    result = svc.validate(client(services, "validation"), REQUEST)
    assert result == {
        "service": "validation",
        "valid": True,
        "checks": [
            {"package": "api@1.2.0", "passed": True, "message": "ok"},
            {"package": "web@3.1.4", "passed": True, "message": "ok"},
        ],
    }
    (call,) = services.calls("validation")
    assert call.json() == {k: REQUEST[k] for k in ("storyId", "packages", "environment")}
    assert call.headers["authorization"] == f"Bearer {DEFAULT_TOKENS['validation']}"
    assert call.headers["content-type"] == "application/json"
    assert "idempotency-key" not in call.headers


def test_a_failed_validation_names_the_failing_packages_and_is_final(services, test_clock):
    request = {**REQUEST, "packages": ["api@1.2.0", "legacy-invalid", "web@3.1.4"]}
    with pytest.raises(ValidationFailedError) as caught:
        svc.validate(client(services, "validation"), request)
    assert isinstance(caught.value, NonRetryableError)
    assert "1 of 3 checks" in str(caught.value) and "legacy-invalid" in str(caught.value)
    assert "api@1.2.0" not in str(caught.value)


def test_a_long_list_of_failures_is_bounded(services, test_clock):
    services.answer_invalid(message="m" * 1000)
    request = {**REQUEST, "packages": [f"pkg-{i}" for i in range(50)]}
    with pytest.raises(ValidationFailedError) as caught:
        svc.validate(client(services, "validation"), request)
    text = str(caught.value)
    assert len(text) <= 500 and "50 of 50" in text and "pkg-0 " in text


def test_deployment_is_one_call_per_package_with_its_derived_key(services, test_clock):
    result = svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)
    keys = [svc.idempotency_key(EXECUTION, "deployment", p) for p in REQUEST["packages"]]
    assert [d["idempotencyKey"] for d in result["deployments"]] == keys
    assert [d["package"] for d in result["deployments"]] == REQUEST["packages"]
    assert all(d["status"] == "deployed" and d["deploymentId"].startswith("dep-") for d in result["deployments"])
    assert [c.headers["idempotency-key"] for c in services.calls("deployment")] == keys
    assert [c.json() for c in services.calls("deployment")] == [
        {"storyId": "PROJ-7", "package": p, "environment": "staging"} for p in REQUEST["packages"]
    ]


def test_a_whole_task_retried_deploys_nothing_twice(services, test_clock):
    first = svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)
    again = svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)
    assert again["deployments"] == first["deployments"]
    assert len(services.performed("deployment")) == 2


def test_notification_carries_its_key_and_the_release(services, test_clock):
    result = svc.notify(client(services, "notification"), REQUEST, EXECUTION)
    assert result["service"] == "notification" and result["notificationId"].startswith("ntf-")
    (call,) = services.calls("notification")
    assert call.headers["idempotency-key"] == svc.idempotency_key(EXECUTION, "notification")
    body = call.json()
    assert {k: body[k] for k in REQUEST} == REQUEST
    assert "PROJ-7" in body["message"] and "staging" in body["message"]


def test_a_refused_token_is_final_at_once(services, test_clock):
    with pytest.raises(ServiceAuthError) as caught:
        svc.validate(client(services, "validation", token="wrong-token"), REQUEST)
    assert "validation" in str(caught.value) and "401" in str(caught.value)
    assert "wrong-token" not in str(caught.value)
    assert len(services.calls("validation")) == 1 and test_clock.sleeps == []
    services.fail_next("deployment", 403)
    with pytest.raises(ServiceAuthError, match="deployment"):
        svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)


def test_a_429_with_a_short_retry_after_is_waited_out_on_the_clock(services, test_clock):
    services.fail_next("validation", 429, retry_after=2)
    assert svc.validate(client(services, "validation"), REQUEST)["valid"] is True
    assert test_clock.sleeps == [2]
    assert len(services.calls("validation")) == 2


def test_a_retry_after_given_as_an_http_date_is_read_against_the_clock(services, test_clock):
    services.fail_next("validation", 429, retry_after=formatdate(test_clock.now() + 5, usegmt=True))
    svc.validate(client(services, "validation"), REQUEST)
    assert test_clock.sleeps == [5]


def test_a_long_retry_after_raises_rate_limited_at_once(services, test_clock):
    services.fail_next("deployment", 429, retry_after=60)
    with pytest.raises(ServiceRateLimitedError) as caught:
        svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)
    assert isinstance(caught.value, RetryableError) and caught.value.retry_after == 60
    assert len(services.calls("deployment")) == 1 and test_clock.sleeps == []


def test_429s_without_retry_after_back_off_and_then_raise_rate_limited(services, test_clock):
    services.fail_next("notification", 429, times=3)
    with pytest.raises(ServiceRateLimitedError):
        svc.notify(client(services, "notification"), REQUEST, EXECUTION)
    assert len(services.calls("notification")) == 3
    assert len(test_clock.sleeps) == 2
    assert 0 <= test_clock.sleeps[0] <= 0.5 and 0 <= test_clock.sleeps[1] <= 1.0


def test_an_unreadable_retry_after_backs_off_as_if_absent(services, test_clock):
    services.fail_next("validation", 503, retry_after="soon")
    svc.validate(client(services, "validation"), REQUEST)
    assert len(test_clock.sleeps) == 1 and 0 <= test_clock.sleeps[0] <= 0.5


def test_a_500_once_is_retried_with_the_same_key_and_deploys_once(services, test_clock):
    services.fail_next("deployment", 500)
    result = svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)
    calls = services.calls("deployment")
    assert len(calls) == 3  # the first package twice, the second once
    assert (
        calls[0].headers["idempotency-key"]
        == calls[1].headers["idempotency-key"]
        == result["deployments"][0]["idempotencyKey"]
    )
    assert [key for key, _ in services.performed("deployment")] == [d["idempotencyKey"] for d in result["deployments"]]
    assert len(test_clock.sleeps) == 1


def test_5xx_on_every_attempt_is_unavailable_after_three(services, test_clock):
    services.fail_next("validation", 502, times=5)
    with pytest.raises(ServiceUnavailableError) as caught:
        svc.validate(client(services, "validation"), REQUEST)
    assert "502" in str(caught.value) and isinstance(caught.value, RetryableError)
    assert len(services.calls("validation")) == 3


def test_a_read_timeout_is_retried_and_the_service_dedupes_the_lost_answer(services, test_clock):
    services.slow_next("deployment", 0.4)
    result = svc.deploy(client(services, "deployment", timeout=(1.0, 0.1)), REQUEST, EXECUTION)
    calls = services.calls("deployment")
    assert len(calls) == 3 and calls[0].headers["idempotency-key"] == calls[1].headers["idempotency-key"]
    assert len(services.performed("deployment")) == 2  # the slow one was done once, its retry deduplicated
    assert result["deployments"][0]["deploymentId"] == svc_deployment_id(calls[0].headers["idempotency-key"])


def svc_deployment_id(key: str) -> str:
    return derived_id("dep", key)


def test_read_timeouts_on_every_attempt_are_unavailable(services, test_clock):
    services.slow_next("validation", 0.3, times=3)
    with pytest.raises(ServiceUnavailableError, match="timed out"):
        svc.validate(client(services, "validation", timeout=(1.0, 0.05)), REQUEST)
    assert len(services.calls("validation")) == 3


def test_an_unreachable_service_is_unavailable_after_three_attempts(test_clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = svc.ReleaseService("validation", f"http://127.0.0.1:{port}", "t", svc.service_session())
    with pytest.raises(ServiceUnavailableError, match="unreachable"):
        svc.validate(service, REQUEST)
    assert len(test_clock.sleeps) == 2


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_are_never_retried(services, test_clock, status):
    services.fail_next("deployment", status, body={"message": "package api@1.2.0 is frozen " + "x" * 500})
    with pytest.raises(ServiceRejectedError) as caught:
        svc.deploy(client(services, "deployment"), REQUEST, EXECUTION)
    assert f"({status})" in str(caught.value) and "is frozen" in str(caught.value)
    assert len(str(caught.value)) < 300
    assert len(services.calls("deployment")) == 1 and test_clock.sleeps == []


def test_the_fakes_own_400_names_the_field(services, test_clock):
    with pytest.raises(ServiceRejectedError, match="packages"):
        svc.validate(client(services, "validation"), {**REQUEST, "packages": []})


@pytest.mark.parametrize(
    "service, status, body, words",
    [
        ("validation", 200, b"<html>oops</html>", "non-JSON body"),
        ("validation", 200, b"", "not a JSON object"),
        ("validation", 200, [], "not a JSON object"),
        ("validation", 200, {"valid": "yes", "checks": []}, "valid must be a boolean"),
        ("validation", 200, {"valid": True}, "checks must be an array"),
        ("validation", 200, {"valid": True, "checks": [1]}, "checks[0]"),
        ("validation", 200, {"valid": True, "checks": [{"package": "a", "passed": 1}]}, "passed must be a boolean"),
        ("validation", 201, {"valid": True, "checks": []}, "expected 200"),
        ("validation", 302, None, "expected 200"),
        ("deployment", 201, {"deploymentId": "", "package": "api@1.2.0", "status": "ok"}, "deploymentId"),
        ("deployment", 201, {"deploymentId": "d", "package": "other", "status": "ok"}, 'not "api@1.2.0"'),
        ("deployment", 201, {"deploymentId": "d", "package": "api@1.2.0"}, "status must be"),
        ("notification", 200, {"notificationId": "n"}, "expected 202"),
        ("notification", 202, {"notificationId": 5}, "notificationId must be"),
    ],
)
def test_a_malformed_answer_is_a_protocol_error_naming_the_fault(services, test_clock, service, status, body, words):
    services.fail_next(service, status, body=body)
    call = {
        "validation": lambda c: svc.validate(c, REQUEST),
        "deployment": lambda c: svc.deploy(c, REQUEST, EXECUTION),
        "notification": lambda c: svc.notify(c, REQUEST, EXECUTION),
    }[service]
    with pytest.raises(ServiceProtocolError) as caught:
        call(client(services, service))
    assert words in str(caught.value) and service in str(caught.value)
    assert isinstance(caught.value, NonRetryableError)
    assert len(services.calls(service)) == 1


def test_an_oversized_answer_is_refused(services, test_clock):
    services.fail_next("validation", 200, body={"valid": True, "checks": [], "pad": "x" * 300_000})
    with pytest.raises(ServiceProtocolError, match="more than"):
        svc.validate(client(services, "validation"), REQUEST)


def test_full_jitter_draws_below_the_doubling_cap():
    retry = svc.ServiceRetry(total=5, backoff_factor=0.5, backoff_max=4.0, rng=random.Random(1))
    assert retry.get_backoff_time() == 0
    bounds = []
    for failures in range(1, 7):
        retry.history = tuple(range(failures))  # only the count of failures so far matters
        bounds.append(min(4.0, 0.5 * 2 ** (failures - 1)))
        draws = [retry.get_backoff_time() for _ in range(200)]
        assert all(0 <= d <= bounds[-1] for d in draws)
        assert max(draws) > bounds[-1] * 0.8  # spread over the whole range, not a fixed delay
    assert bounds == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
