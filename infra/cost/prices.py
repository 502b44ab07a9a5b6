"""AWS on-demand list prices the cost report uses: one table per region, dated, each price with its source.

Taken on ``TAKEN`` from the AWS pricing pages cited beside each price (and, where a page was not
reachable offline, from a secondary page quoting it, cited as well). Prices are list prices before
any free tier: the free tiers (4,000 Standard transitions, 1M Lambda requests and 400,000 GB-s,
20,000 KMS requests, 1M SNS publishes, 14M Scheduler invocations, 100,000 X-Ray traces a month …)
are per account and shared by every pipeline, so the report leaves them out and says so.

For every price below us-west-2 (Oregon) and us-east-1 (N. Virginia) are the same; the two tables
are kept separate so a region whose prices differ is added as its own table, not as a multiplier.
A region without a table is refused (``UnknownRegion``) rather than priced as another.
"""

from __future__ import annotations

from dataclasses import dataclass

TAKEN = "2026-12-08"


class UnknownRegion(KeyError):
    """No price table for the stack's region."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per one ``unit``, ``quoted`` as AWS quotes it, and where it comes from."""

    usd: float
    unit: str
    quoted: str
    source: str


# Sources (the pricing pages; the second URL where the first was read through a page quoting it).
STEP_FUNCTIONS = "https://aws.amazon.com/step-functions/pricing/"
LAMBDA = "https://aws.amazon.com/lambda/pricing/ (https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html)"
API_GATEWAY = "https://aws.amazon.com/api-gateway/pricing/"
S3 = "https://aws.amazon.com/s3/pricing/ (Storage & requests, S3 Standard)"
DYNAMODB = (
    "https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the November 2024 on-demand price cut; "
    "quoted at https://airbyte.com/data-engineering-resources/dynamodb-pricing)"
)
SNS = "https://aws.amazon.com/sns/pricing/ (quoted at https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/)"
SECRETS_MANAGER = "https://aws.amazon.com/secrets-manager/pricing/"
KMS = "https://aws.amazon.com/kms/pricing/"
EVENTBRIDGE = (
    "https://aws.amazon.com/eventbridge/pricing/ (quoted at https://cloudburn.io/blog/amazon-eventbridge-pricing)"
)
BEDROCK = (
    "https://aws.amazon.com/bedrock/pricing/ (Amazon Nova, on-demand; cross-Region inference profiles are "
    "priced as the source Region; the table in github.com/aws/agent-toolkit-for-aws bedrock_pricing.py)"
)
CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
XRAY = "https://aws.amazon.com/xray/pricing/"
RDS = (
    "https://aws.amazon.com/rds/postgresql/pricing/ (quoted at "
    "https://infratally.com/articles/aws-rds-pricing-explained-2026.html and https://www.usage.ai/blogs/aws/reserved-instances/rds/pricing-calculator/)"
)
VPC = "https://aws.amazon.com/vpc/pricing/ (NAT gateway, public IPv4; quoted at https://cloudburn.io/blog/aws-nat-gateway-pricing)"

MILLION = 1_000_000
HOURS_PER_MONTH = 730  # AWS's own convention on its pricing pages


def _table() -> dict[str, Price]:
    return {
        # Step Functions
        "states.transition": Price(
            0.025 / 1000, "state transition", "$0.025 per 1,000 state transitions", STEP_FUNCTIONS
        ),
        "states.express.request": Price(1.00 / MILLION, "request", "$1.00 per million requests", STEP_FUNCTIONS),
        # The first tier (to 1,000 GB-hours a month): $0.06 per GB-hour.
        "states.express.gb_second": Price(0.00001667, "GB-second", "$0.00001667 per GB-second", STEP_FUNCTIONS),
        # Lambda (the first 6 billion GB-seconds a month)
        "lambda.request": Price(0.20 / MILLION, "request", "$0.20 per million requests", LAMBDA),
        "lambda.gb_second.x86_64": Price(0.0000166667, "GB-second", "$0.0000166667 per GB-second (x86)", LAMBDA),
        "lambda.gb_second.arm64": Price(0.0000133334, "GB-second", "$0.0000133334 per GB-second (Arm)", LAMBDA),
        # API Gateway HTTP APIs: the first 300 million requests a month; metered in 512 KB increments.
        "apigateway.http.request": Price(1.00 / MILLION, "request", "$1.00 per million requests", API_GATEWAY),
        # S3 Standard requests
        "s3.tier1": Price(0.005 / 1000, "request", "$0.005 per 1,000 PUT, COPY, POST, LIST requests", S3),
        "s3.tier2": Price(0.0004 / 1000, "request", "$0.0004 per 1,000 GET and all other requests", S3),
        # DynamoDB on-demand, Standard table class
        "dynamodb.wru": Price(
            0.625 / MILLION, "write request unit", "$0.625 per million write request units", DYNAMODB
        ),
        "dynamodb.rru": Price(0.125 / MILLION, "read request unit", "$0.125 per million read request units", DYNAMODB),
        # SNS: a publish is billed per 64 KB chunk; e-mail per notification delivered
        "sns.publish": Price(0.50 / MILLION, "request", "$0.50 per million requests (64 KB chunks)", SNS),
        "sns.email": Price(2.00 / 100_000, "notification", "$2.00 per 100,000 e-mail notifications", SNS),
        # Secrets Manager
        "secretsmanager.api": Price(0.05 / 10_000, "API call", "$0.05 per 10,000 API calls", SECRETS_MANAGER),
        "secretsmanager.secret_month": Price(0.40, "secret-month", "$0.40 per secret per month", SECRETS_MANAGER),
        # KMS (symmetric keys; each rotation's new key material adds $1/month for the first two rotations)
        "kms.request": Price(0.03 / 10_000, "request", "$0.03 per 10,000 requests", KMS),
        "kms.key_month": Price(1.00, "key-month", "$1.00 per customer managed key per month", KMS),
        # EventBridge: AWS service events on the default bus (S3 Object Created) are free
        "events.custom": Price(1.00 / MILLION, "event", "$1.00 per million custom events (64 KB chunks)", EVENTBRIDGE),
        "events.aws_service": Price(0.0, "event", "free (AWS service events, default bus)", EVENTBRIDGE),
        "scheduler.invocation": Price(1.00 / MILLION, "invocation", "$1.00 per million invocations", EVENTBRIDGE),
        # Bedrock on-demand, per model (the geography prefix of an inference profile is dropped)
        "bedrock.amazon.nova-micro-v1:0.input": Price(
            0.000035 / 1000, "input token", "$0.000035 per 1,000 input tokens", BEDROCK
        ),
        "bedrock.amazon.nova-micro-v1:0.output": Price(
            0.00014 / 1000, "output token", "$0.00014 per 1,000 output tokens", BEDROCK
        ),
        "bedrock.amazon.nova-lite-v1:0.input": Price(
            0.00006 / 1000, "input token", "$0.00006 per 1,000 input tokens", BEDROCK
        ),
        "bedrock.amazon.nova-lite-v1:0.output": Price(
            0.00024 / 1000, "output token", "$0.00024 per 1,000 output tokens", BEDROCK
        ),
        "bedrock.amazon.nova-pro-v1:0.input": Price(
            0.0008 / 1000, "input token", "$0.0008 per 1,000 input tokens", BEDROCK
        ),
        "bedrock.amazon.nova-pro-v1:0.output": Price(
            0.0032 / 1000, "output token", "$0.0032 per 1,000 output tokens", BEDROCK
        ),
        # CloudWatch Logs ingestion (standard log class; Lambda logs and Step Functions vended logs alike)
        "logs.ingest_gb": Price(0.50, "GB", "$0.50 per GB ingested", CLOUDWATCH),
        "cloudwatch.alarm_month": Price(
            0.10, "alarm-month", "$0.10 per standard-resolution alarm metric per month", CLOUDWATCH
        ),
        "cloudwatch.dashboard_month": Price(3.00, "dashboard-month", "$3.00 per dashboard per month", CLOUDWATCH),
        # X-Ray
        "xray.trace": Price(5.00 / MILLION, "trace", "$5.00 per million traces recorded", XRAY),
        # RDS for PostgreSQL, Single-AZ on-demand (Multi-AZ: twice), gp3 storage
        "rds.postgres.db.t4g.micro": Price(0.016, "instance-hour", "$0.016 per hour", RDS),
        "rds.postgres.db.t4g.small": Price(0.032, "instance-hour", "$0.032 per hour", RDS),
        "rds.postgres.db.t4g.medium": Price(0.065, "instance-hour", "$0.065 per hour", RDS),
        "rds.gp3_gb_month": Price(0.115, "GB-month", "$0.115 per GB-month (gp3)", RDS),
        # VPC
        "vpc.nat_hour": Price(0.045, "NAT gateway-hour", "$0.045 per NAT gateway-hour", VPC),
        "vpc.nat_gb": Price(0.045, "GB", "$0.045 per GB processed", VPC),
        "vpc.public_ipv4_hour": Price(0.005, "IP-hour", "$0.005 per public IPv4 address-hour", VPC),
    }


PRICE_TABLES: dict[str, dict[str, Price]] = {"us-west-2": _table(), "us-east-1": _table()}


def prices_for(region: str) -> dict[str, Price]:
    """The price table of ``region``; UnknownRegion (naming the regions there are tables for) otherwise."""
    try:
        return PRICE_TABLES[region]
    except KeyError:
        raise UnknownRegion(
            f"no price table for region {region!r} (infra/cost/prices.py has {', '.join(PRICE_TABLES)})"
        ) from None


def bedrock_model(model_id: str) -> str:
    """The foundation model a Bedrock model id or inference profile prices as (``us.amazon.nova-lite-v1:0`` →
    ``amazon.nova-lite-v1:0``)."""
    head, _, rest = model_id.partition(".")
    return rest if head in ("us", "eu", "apac", "jp", "au", "ca", "global") and rest else model_id
