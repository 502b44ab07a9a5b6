"""The sandbox, deployed once per test module (deploying takes a few seconds)."""

import logging

import pytest

from infra.sandbox.environment import sandbox_environment


@pytest.fixture(scope="module")
def sandbox():
    """Every enabled pipeline of the dev stack deployed into the sandbox, services running."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with sandbox_environment("dev") as deployed:
        yield deployed
