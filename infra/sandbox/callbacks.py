"""Task-token callbacks as Step Functions answers them (moto 5.2.5 differs; installed by ``Sandbox``).

A task token is good for one report. Once its task has its outcome (a success or failure was
sent, or it timed out, or the execution ended), Step Functions answers every further
``SendTaskSuccess``, ``SendTaskFailure`` and ``SendTaskHeartbeat`` with ``TaskTimedOut``
("Provided task does not exist anymore"). moto instead
- answers a second ``SendTaskSuccess`` after its execution ended with ``InvalidToken`` (it looks
  only at running executions), and accepts one while the execution still runs;
- silently accepts a duplicate ``SendTaskFailure``;
- raises ``States.Timeout`` when a heartbeat is missed, where Step Functions raises
  ``States.HeartbeatTimeout`` (so a ``Catch`` on it never matched);
- drops the ``cause`` of ``SendTaskFailure`` (its response handler passes only the error on).
Here a token's endpoint closes at its first outcome, every execution is searched, and a missed
heartbeat is named as in AWS. A token no execution ever issued stays ``InvalidToken``.
"""

from __future__ import annotations

from collections.abc import Callable

from moto.core.exceptions import AWSError
from moto.core.responses import EmptyResult
from moto.stepfunctions.exceptions import InvalidToken
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType, TaskTimedOutEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackConsumerTimeout,
    CallbackEndpoint,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
    CallbackPoolManager,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

_CLOSED = "_stepworks_closed"
# Set on a token's endpoint once its task waits for the report (its deadline armed on the clock).
_WAITING = "_stepworks_waiting"


# moto's own TaskTimedOut/TaskDoesNotExist reach the client without an error code.
class TaskTimedOut(AWSError):
    """The token's task already has its outcome, or its execution ended."""

    TYPE = "TaskTimedOut"
    STATUS = 400


class TaskDoesNotExist(AWSError):
    """The token's task is gone for another reason."""

    TYPE = "TaskDoesNotExist"
    STATUS = 400


def _closed(endpoint: CallbackEndpoint) -> bool:
    return getattr(endpoint, _CLOSED, False)


def _close(endpoint: CallbackEndpoint) -> None:
    setattr(endpoint, _CLOSED, True)


def _report(backend: StepFunctionsParserBackend, task_token: str, deliver: Callable[[CallbackEndpoint], None]) -> None:
    """Find the token's endpoint in any execution; deliver once, TaskTimedOut ever after."""
    for execution in backend._get_executions():
        worker = getattr(execution, "exec_worker", None)
        pool: CallbackPoolManager | None = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
        endpoint = pool.get(task_token) if pool is not None else None
        if endpoint is None:
            continue
        if _closed(endpoint) or not _running(execution):
            raise TaskTimedOut("Provided task does not exist anymore")
        if endpoint.consumer_error is not None:
            if isinstance(endpoint.consumer_error, CallbackConsumerTimeout):
                raise TaskTimedOut("Provided task does not exist anymore")
            raise TaskDoesNotExist("Task does not exist anymore")
        deliver(endpoint)
        return
    raise InvalidToken("the token was not issued by any execution")


def waits_for_token(backend: StepFunctionsParserBackend, execution_arn: str) -> bool:
    """Whether a task of the execution waits for its token now (armed: advancing the clock can time it out)."""
    for execution in backend._get_executions(ExecutionStatus.RUNNING):
        if execution.execution_arn != execution_arn:
            continue
        pool = getattr(getattr(getattr(execution, "exec_worker", None), "env", None), "callback_pool_manager", None)
        endpoints = getattr(pool, "_pool", {}).values() if pool is not None else ()
        return any(getattr(e, _WAITING, False) and not _closed(e) for e in endpoints)
    return False


def _running(execution: Execution) -> bool:
    return execution.exec_status == ExecutionStatus.RUNNING


def install() -> Callable[[], None]:
    """Patch moto's callback API and heartbeat error; returns the undo."""
    backend = StepFunctionsParserBackend
    saved = {
        "success": backend.send_task_success,
        "failure": backend.send_task_failure,
        "heartbeat": backend.send_task_heartbeat,
        "interrupt": CallbackEndpoint.interrupt_all,
        "wait": CallbackEndpoint.wait,
        "from_error": StateTask._from_error,
        "failure_response": StepFunctionResponse.send_task_failure,
    }

    def send_task_success(self, task_token, outcome):
        def deliver(endpoint: CallbackEndpoint) -> None:
            _close(endpoint)
            endpoint.notify(CallbackOutcomeSuccess(callback_id=task_token, output=outcome))

        _report(self, task_token, deliver)

    def send_task_failure(self, task_token, error=None, cause=None):
        def deliver(endpoint: CallbackEndpoint) -> None:
            _close(endpoint)
            endpoint.notify(CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))

        _report(self, task_token, deliver)

    def send_task_heartbeat(self, task_token):
        _report(self, task_token, lambda endpoint: endpoint.notify_heartbeat())

    def interrupt_all(self) -> None:
        # Called when the task stops waiting, however it ended: the token is spent.
        _close(self)
        saved["interrupt"](self)

    def wait(self, timeout=None):
        setattr(self, _WAITING, True)
        return saved["wait"](self, timeout)

    def from_error(self, env, ex):
        if isinstance(ex, HeartbeatTimeoutError):
            name = StatesErrorNameType.StatesHeartbeatTimeout
            return FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=name),
                event_type=HistoryEventType.TaskTimedOut,
                event_details=EventDetails(taskTimedOutEventDetails=TaskTimedOutEventDetails(error=name.to_name())),
            )
        return saved["from_error"](self, env, ex)

    def failure_response(self):
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    backend.send_task_success = send_task_success
    backend.send_task_failure = send_task_failure
    backend.send_task_heartbeat = send_task_heartbeat
    CallbackEndpoint.interrupt_all = interrupt_all
    CallbackEndpoint.wait = wait
    StateTask._from_error = from_error
    StepFunctionResponse.send_task_failure = failure_response

    def undo() -> None:
        backend.send_task_success = saved["success"]
        backend.send_task_failure = saved["failure"]
        backend.send_task_heartbeat = saved["heartbeat"]
        CallbackEndpoint.interrupt_all = saved["interrupt"]
        CallbackEndpoint.wait = saved["wait"]
        StateTask._from_error = saved["from_error"]
        StepFunctionResponse.send_task_failure = saved["failure_response"]

    return undo
