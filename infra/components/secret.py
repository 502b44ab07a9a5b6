"""ApiTokenSecret: a third-party API token kept in Secrets Manager, read by ARN at run time.

Created empty (the program never sees a token: an operator stores it after ``pulumi up``),
encrypted with the pipeline's key. Its read grant comes with it, key included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.stack import moved_from


@dataclass
class ApiTokenSecretArgs:
    """What the token is for and the key that encrypts it."""

    description: str
    key_arn: pulumi.Input[str]
    # The component that declared the secret before it moved here, so `pulumi up` keeps it.
    moved_from: pulumi.Resource | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class ApiTokenSecret(pulumi.ComponentResource):
    """An empty, CMK-encrypted secret and the grant to read it."""

    def __init__(self, name: str, args: ApiTokenSecretArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:ApiTokenSecret", name, None, opts)
        self.key_arn = args.key_arn
        self.secret = aws.secretsmanager.Secret(
            name,
            # Created empty: say so where an operator looks for it.
            description=f"{args.description}; set its value after deploy (README, Secrets)",
            kms_key_id=args.key_arn,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, aliases=moved_from(args.moved_from)),
        )
        self.arn = self.secret.arn
        self.register_outputs({"arn": self.arn})

    def read(self) -> list[g.Grant]:
        """Read the token (and decrypt it with the key, through Secrets Manager only)."""
        return g.secret_read(self.arn, self.key_arn)
