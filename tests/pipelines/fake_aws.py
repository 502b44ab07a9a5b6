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


def lambda_context(function_name: str, memory_mb: int):
    """The attributes Powertools' ``inject_lambda_context`` reads, for a function of that name and memory."""
    import uuid
    from types import SimpleNamespace

    return SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}",
        aws_request_id=str(uuid.uuid4()),
    )
