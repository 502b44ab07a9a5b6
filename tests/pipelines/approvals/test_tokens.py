"""The task-token table against moto DynamoDB: one waiting execution per story, the first decision kept."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from pipelines.approvals import tokens as t
from pipelines.approvals.errors import StoryAlreadyWaitingError, TokenStoreError, TokenStoreUnavailableError
from pipelines.common.errors import NonRetryableError, RetryableError
from tests.pipelines.approvals.conftest import EXECUTION_ARN, OTHER_EXECUTION_ARN, START, TOKEN_TABLE

DAY = 86_400


@pytest.fixture
def store(aws, test_clock):
    return t.TokenStore(aws.dynamodb, TOKEN_TABLE)


def raw_item(aws, story="PROJ-1"):
    return aws.dynamodb.get_item(TableName=TOKEN_TABLE, Key={"storyId": {"S": story}}, ConsistentRead=True).get("Item")


def test_register_stores_a_pending_item_with_its_ttl(store, aws):
    assert store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY) == {
        "expiresAt": int(START) + DAY + 3600,
        "reregistered": False,
    }
    assert raw_item(aws) == {
        "storyId": {"S": "PROJ-1"},
        "taskToken": {"S": "token-1"},
        "executionArn": {"S": EXECUTION_ARN},
        "status": {"S": "PENDING"},
        "registeredAt": {"S": "2026-12-08T01:00:00.000Z"},
        "expiresAt": {"N": str(int(START) + DAY + 3600)},
    }


def test_the_same_execution_may_register_again_with_a_new_token(store):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    assert store.register("PROJ-1", "token-2", EXECUTION_ARN, DAY)["reregistered"] is True
    assert store.get("PROJ-1")["taskToken"] == "token-2"


def test_a_second_execution_for_a_waiting_story_is_refused_naming_the_first(store):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    with pytest.raises(StoryAlreadyWaitingError) as caught:
        store.register("PROJ-1", "token-2", OTHER_EXECUTION_ARN, DAY)
    assert isinstance(caught.value, NonRetryableError)
    assert "PROJ-1" in str(caught.value) and EXECUTION_ARN in str(caught.value)
    assert store.get("PROJ-1")["taskToken"] == "token-1"


def test_a_story_decided_or_long_expired_may_wait_again(store, test_clock):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    store.decide("PROJ-1", "approved", None, "alice")
    store.register("PROJ-1", "token-2", OTHER_EXECUTION_ARN, DAY)
    assert store.get("PROJ-1")["executionArn"] == OTHER_EXECUTION_ARN
    store.register("PROJ-2", "token-3", EXECUTION_ARN, 60)
    test_clock.advance(60 + 3600 + 1)
    store.register("PROJ-2", "token-4", OTHER_EXECUTION_ARN, 60)
    assert store.get("PROJ-2")["status"] == "PENDING" and store.get("PROJ-2")["taskToken"] == "token-4"


def test_decide_flips_pending_to_done_once_and_keeps_the_first_decision(store, test_clock):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    test_clock.advance(90.5)
    first = store.decide("PROJ-1", "approved", "looks good", "alice")
    assert first.kind == t.DECIDED
    assert {k: first.item[k] for k in ("status", "decision", "comment", "decidedBy", "decidedAt")} == {
        "status": "DONE",
        "decision": "approved",
        "comment": "looks good",
        "decidedBy": "alice",
        "decidedAt": "2026-12-08T01:01:30.500Z",
    }
    second = store.decide("PROJ-1", "rejected", "no", "bob")
    assert second.kind == t.ALREADY_DECIDED and second.item["decision"] == "approved"
    assert second.item["decidedBy"] == "alice"


def test_decide_on_an_unknown_or_ended_wait(store, test_clock):
    assert store.decide("PROJ-9", "approved", None, "x") == t.Decision(t.UNKNOWN, None)
    store.register("PROJ-1", "token-1", EXECUTION_ARN, 60)
    test_clock.advance(60 + 3600 + 1)
    assert store.decide("PROJ-1", "approved", None, "x").kind == t.EXPIRED
    store.register("PROJ-2", "token-2", EXECUTION_ARN, DAY)
    store.close("PROJ-2", EXECUTION_ARN, "no-decision")
    assert store.decide("PROJ-2", "approved", None, "x").kind == t.EXPIRED
    assert store.get("PROJ-2")["status"] == "TIMED_OUT"


def test_a_lost_race_reports_the_winning_decision(store, aws):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    real_update = aws.dynamodb.update_item
    barrier, serial, waited = threading.Barrier(2), threading.Lock(), set()

    def racing_update(**kwargs):
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            barrier.wait(timeout=5)  # both callbacks have read PENDING before either writes
        with serial:  # DynamoDB applies writes to one item one at a time (moto does not, across threads)
            return real_update(**kwargs)

    aws.dynamodb.update_item = racing_update
    results = {}

    def decide(name, decision):
        results[name] = store.decide("PROJ-1", decision, None, name)

    threads = [threading.Thread(target=decide, args=a) for a in (("alice", "approved"), ("bob", "rejected"))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        aws.dynamodb.update_item = real_update
    kinds = sorted(r.kind for r in results.values())
    assert kinds == [t.ALREADY_DECIDED, t.DECIDED]
    winner = next(name for name, r in results.items() if r.kind == t.DECIDED)
    assert {r.item["decidedBy"] for r in results.values()} == {winner}
    assert store.get("PROJ-1")["decidedBy"] == winner


def test_a_decision_raced_by_a_re_registration_lands_on_the_new_token(store, aws):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    real_update = aws.dynamodb.update_item
    calls = []

    def update_after_retry(**kwargs):
        if not calls:
            store.register("PROJ-1", "token-2", EXECUTION_ARN, DAY)  # the wait task retried meanwhile
        calls.append(kwargs)
        return real_update(**kwargs)

    aws.dynamodb.update_item = update_after_retry
    try:
        decided = store.decide("PROJ-1", "approved", None, "alice")
    finally:
        aws.dynamodb.update_item = real_update
    assert decided.kind == t.DECIDED and decided.item["taskToken"] == "token-2" and len(calls) == 2


def test_mark_resumed_keeps_the_first_time_and_clears_the_claim(store, test_clock):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    assert "resumingUntil" in store.decide("PROJ-1", "approved", None, "a").item
    assert store.mark_resumed("PROJ-1", EXECUTION_ARN) is True
    first = store.get("PROJ-1")["resumedAt"]
    test_clock.advance(5)
    assert store.mark_resumed("PROJ-1", EXECUTION_ARN) is True
    item = store.get("PROJ-1")
    assert item["resumedAt"] == first and "resumingUntil" not in item
    assert store.mark_resumed("PROJ-1", OTHER_EXECUTION_ARN) is False


def test_mark_timed_out_never_overrides_a_confirmed_resume(store):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    store.decide("PROJ-1", "approved", None, "a")
    store.mark_resumed("PROJ-1", EXECUTION_ARN)
    assert store.mark_timed_out("PROJ-1", EXECUTION_ARN) is False
    store.register("PROJ-2", "token-2", EXECUTION_ARN, DAY)
    assert store.mark_timed_out("PROJ-2", OTHER_EXECUTION_ARN) is False
    assert store.mark_timed_out("PROJ-2", EXECUTION_ARN) is True
    item = store.get("PROJ-2")
    assert item["status"] == "TIMED_OUT" and "taskToken" not in item


def test_release_resume_clears_the_claim_of_an_unconfirmed_resume(store):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    store.decide("PROJ-1", "approved", None, "a")
    store.release_resume("PROJ-1", OTHER_EXECUTION_ARN)
    assert "resumingUntil" in store.get("PROJ-1")
    store.release_resume("PROJ-1", EXECUTION_ARN)
    assert "resumingUntil" not in store.get("PROJ-1")


@pytest.mark.parametrize(
    "decided, outcome, status",
    [
        (True, "approved", "DONE"),
        (True, "rejected", "DONE"),
        (False, "no-decision", "TIMED_OUT"),
        (True, "no-decision", "TIMED_OUT"),
        (False, "failed", "CLOSED"),
    ],
)
def test_close_marks_the_ending_and_removes_the_token(store, decided, outcome, status):
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    if decided:
        store.decide("PROJ-1", "approved", None, "a")
    assert store.close("PROJ-1", EXECUTION_ARN, outcome) == status
    item = store.get("PROJ-1")
    assert item["status"] == status and item["outcome"] == outcome and "taskToken" not in item
    assert store.close("PROJ-1", EXECUTION_ARN, outcome) == status  # a retried close is harmless


def test_close_by_another_execution_or_of_nothing_touches_nothing(store, aws):
    assert store.close("PROJ-9", EXECUTION_ARN, "failed") is None
    store.register("PROJ-1", "token-1", EXECUTION_ARN, DAY)
    before = raw_item(aws)
    assert store.close("PROJ-1", OTHER_EXECUTION_ARN, "failed") is None
    assert raw_item(aws) == before


def failing_client(code: str, status: int = 400):
    class Client:
        def __getattr__(self, name):
            def call(**kwargs):
                raise ClientError(
                    {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, name
                )

            return call

    return Client()


@pytest.mark.parametrize(
    "code, status",
    [("ProvisionedThroughputExceededException", 400), ("ThrottlingException", 400), ("InternalServerError", 500)],
)
def test_throttling_and_5xx_are_retryable(code, status, test_clock):
    store = t.TokenStore(failing_client(code, status), TOKEN_TABLE)
    with pytest.raises(TokenStoreUnavailableError) as caught:
        store.decide("PROJ-1", "approved", None, "a")
    assert isinstance(caught.value, RetryableError) and code in str(caught.value)


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AccessDeniedException", "ValidationException"])
def test_other_client_errors_are_final_and_named(code, test_clock):
    with pytest.raises(TokenStoreError, match=code):
        t.TokenStore(failing_client(code), TOKEN_TABLE).register("PROJ-1", "tok", EXECUTION_ARN, DAY)


def test_a_connection_failure_is_retryable(test_clock):
    class Down:
        def get_item(self, **kwargs):
            raise EndpointConnectionError(endpoint_url="https://dynamodb")

    with pytest.raises(TokenStoreUnavailableError, match="EndpointConnectionError"):
        t.TokenStore(Down(), TOKEN_TABLE).get("PROJ-1")
