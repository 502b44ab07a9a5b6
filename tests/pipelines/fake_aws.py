"""The environment a handler sees in moto-backed tests: fake credentials in one region."""

from __future__ import annotations

REGION = "eu-west-2"
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def set_fake_aws_environment(patch, **extra: str) -> None:
    """Set the fake credentials and region (and ``extra`` variables) with a pytest MonkeyPatch."""
    for name, value in {**FAKE_AWS_ENVIRONMENT, **extra}.items():
        patch.setenv(name, value)
