"""Helpers shared by the translator modules (``translators``, ``network_translators``, …)."""

from __future__ import annotations

from infra.sandbox.mocks import DeclaredResource, EmulatorMocks, physical_name


def _client(mocks: EmulatorMocks, service: str):
    return mocks.client(service)


def _name(resource: DeclaredResource, max_length: int = 64, lower: bool = False) -> str:
    given = resource.inputs.get("name")
    return given if isinstance(given, str) and given else physical_name(resource.name, max_length, lower)


def _tags_list(tags: dict | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in (tags or {}).items()]


def _account(mocks) -> str:
    account = getattr(mocks, "_account_id", None)
    if account is None:
        account = mocks._account_id = _client(mocks, "sts").get_caller_identity()["Account"]
    return account
