"""Shared fixtures: the program run under recording mocks (no emulator)."""

import pytest

from infra.sandbox.mocks import RecordingMocks
from infra.sandbox.program import load_stack_file, run_program


@pytest.fixture(scope="session")
def dev_program():
    """The program with Pulumi.dev.yaml, every resource recorded (no AWS, no emulator)."""
    return run_program(RecordingMocks(), load_stack_file("dev"), stack="dev")


# The longest modules, started first: with --dist loadscope each module runs whole on one worker,
# and one of these starting last would run on alone while the other workers sit idle.
LONGEST_FIRST = (
    "tests/infra/test_demo_command.py",
    "tests/e2e/test_daily_analysis.py",
    "tests/e2e/test_malformed_inputs.py",
    "tests/infra/test_cli_release_approval.py",
    "tests/infra/test_serve.py",
    "tests/infra/test_diff_revisions.py",
    "tests/e2e/test_release_approval.py",
    "tests/e2e/test_uploads.py",
    "tests/e2e/test_incidents.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
