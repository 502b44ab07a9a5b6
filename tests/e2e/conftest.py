"""The sandbox, deployed once per test module (deploying takes a few seconds).

IAM is enforced (``infra/sandbox/iam.py``): every function, state machine and trigger runs as its
own role. When a test fails, the refusals the sandbox's IAM made during it are added to the
report ("IAM denials"): a pipeline missing a grant shows up there as the role, the action and the
resource, whatever error the pipeline turned the refusal into.
"""

import logging

import pytest

from infra.sandbox.environment import sandbox_environment

_DENIALS_FROM = pytest.StashKey[int]()


@pytest.fixture(scope="module")
def sandbox(request):
    """The dev stack deployed into the sandbox, services running: every enabled pipeline, or the
    module's ``DEPLOYED`` list (a module about one pipeline deploys only it, in a few seconds)."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with sandbox_environment("dev", pipelines=getattr(request.module, "DEPLOYED", None)) as deployed:
        yield deployed


@pytest.fixture(autouse=True)
def _iam_denials(request, sandbox):
    """Mark where this test's denials start (see ``pytest_runtest_makereport``)."""
    request.node.stash[_DENIALS_FROM] = len(sandbox.iam.denials)
    return sandbox.iam.denials


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _DENIALS_FROM in item.stash and "sandbox" in item.funcargs:
        denials = item.funcargs["sandbox"].iam.denials[item.stash[_DENIALS_FROM] :]
        if denials:
            lines = [f"  {denial}" for denial in denials]
            report.sections.append(
                (
                    "IAM denials",
                    "The sandbox's IAM refused these requests during the test (a missing grant, or a trust "
                    "policy the service cannot satisfy, fails the same way in AWS):\n" + "\n".join(lines),
                )
            )
    return report
