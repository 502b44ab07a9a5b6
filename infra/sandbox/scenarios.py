"""One demo scenario per pipeline: trigger it the way production does and report what landed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.sandbox.core import ExecutionResult, Sandbox


@dataclass
class ScenarioResult:
    """A pipeline's demo run: the execution and a one-line account of what it wrote."""

    pipeline: str
    execution: ExecutionResult
    landed: str

    @property
    def ok(self) -> bool:
        return self.execution.status == "SUCCEEDED"


def greeting(sandbox: Sandbox) -> ScenarioResult:
    """POST /greetings (SigV4-signed) → the item it wrote."""
    response = sandbox.call_route("greeting", {"message": "Hello from the stepworks sandbox"})
    response.raise_for_status()
    execution = sandbox.wait(response.json()["executionArn"])
    items = sandbox.client("dynamodb").scan(TableName=sandbox.outputs("greeting")["tableName"])["Items"]
    landed = "; ".join(
        f"item id={i['id']['S']} Timestamp={i['Timestamp']['S']} Message={i['Message']['S']!r}" for i in items
    )
    return ScenarioResult("greeting", execution, landed or "nothing")


SCENARIOS: dict[str, Callable[[Sandbox], ScenarioResult]] = {
    "greeting": greeting,
}
