"""Shared fixtures: the program run under recording mocks (no emulator)."""

import pytest

from infra.sandbox.mocks import RecordingMocks
from infra.sandbox.program import load_stack_file, run_program


@pytest.fixture(scope="session")
def dev_program():
    """The program with Pulumi.dev.yaml, every resource recorded (no AWS, no emulator)."""
    return run_program(RecordingMocks(), load_stack_file("dev"), stack="dev")
