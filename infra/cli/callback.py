"""``python -m infra callback release-approval --issue PROJ-1 --decision approved``: answer a waiting run.

Sent as Jira Automation's "Send web request" sends it: ``POST /callbacks/jira`` of the running
sandbox (``run release-approval`` or ``serve``, in another terminal), the decision as JSON and
the shared secret in the Authorization header, read by ARN from the sandbox's Secrets Manager as
Jira's administrator read it when configuring the rule. Prints the API's answer; exit 0 when the
decision was accepted or had already been made, 1 otherwise.
"""

from __future__ import annotations

import json

from infra.cli.common import UsageError

CALLBACK_PIPELINES = ("release-approval",)


def cmd_callback(args) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.sandbox.fakes.jira import JiraAutomation
    from infra.sandbox.served import NoSandboxRunning, read_session

    if args.pipeline not in CALLBACK_PIPELINES:
        raise UsageError(
            f"pipeline {args.pipeline!r} takes no callbacks; pipelines that do: {', '.join(CALLBACK_PIPELINES)}"
        )
    try:
        session = read_session(args.stack)
        outputs = session.outputs[args.pipeline]
        url = session.loopback(outputs["callbackUrl"])
    except NoSandboxRunning as exc:
        raise UsageError(
            f"{exc}; start one in another terminal: python -m infra run {args.pipeline} --file release.json"
        ) from None
    except KeyError:
        raise UsageError(f"the running sandbox of stack {args.stack!r} does not deploy {args.pipeline}") from None
    try:
        secret = session.client("secretsmanager").get_secret_value(SecretId=outputs["callbackSecretArn"])
    except (BotoCoreError, ClientError) as exc:
        raise UsageError(f"the callback secret cannot be read from the sandbox: {exc}") from None
    automation = JiraAutomation(url, secret["SecretString"])
    status, body = automation.send(args.issue, args.decision, args.comment or "", args.by or "")
    print(f"POST /callbacks/jira → {status}")
    print(json.dumps(body, indent=2, ensure_ascii=False) if not isinstance(body, str) else body)
    return 0 if status in (200, 202) else 1
