"""Network: the private subnets functions and databases run in — an existing VPC, or one created here.

A created VPC has, in each of two availability zones, a private subnet (functions, database)
and a public subnet holding the NAT gateway the private ones reach the internet through
(third-party APIs, Secrets Manager). One NAT gateway by default; one per zone when
``nat_per_zone`` is set, so losing a zone does not cut the other zone's egress.

A created VPC also records all of its traffic (flow logs into a log group under the pipeline's
key) and has its default security group stripped of every rule, so anything that ends up in
that group by default can neither receive nor send. An existing VPC (``vpcId``) belongs to its owner: the program adds
neither a flow log nor a default-group change there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.logs import LogGroupArgs, encrypted_log_group, flow_log_group_name
from infra.components.stack import PipelineOwner
from infra.components.trust import trust_policy
from infra.config import ConfigError, Section, describe

ZONE_COUNT = 2
DEFAULT_CIDR = "10.40.0.0/16"
# Subnets are /20s of the VPC's block: private ones first, public ones from the middle.
SUBNET_PREFIX = 20
PUBLIC_SUBNET_OFFSET = 8
FLOW_LOGS_PRINCIPAL = "vpc-flow-logs.amazonaws.com"
# One-minute records: a flow shows up (and can be lined up with a function's log or an execution)
# within about a minute instead of ten. The VPC carries a handful of functions, a NAT gateway and
# one database, so the extra records cost little; 60 and 600 are the only values AWS accepts.
FLOW_LOG_AGGREGATION_S = 60
# Flow-log delivery into a log group that already exists (the program creates it, encrypted and
# retained): no logs:CreateLogGroup, and every action scoped to that one group.
FLOW_LOG_DELIVERY_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


@dataclass(frozen=True)
class NetworkSettings:
    """An existing VPC and its private subnets, or the shape of the VPC to create."""

    vpc_id: str | None = None
    private_subnet_ids: tuple[str, ...] = ()
    cidr_block: str = DEFAULT_CIDR
    availability_zones: tuple[str, ...] = ()
    nat_per_zone: bool = False

    @property
    def existing(self) -> bool:
        """True when the stack names a VPC to use instead of creating one."""
        return self.vpc_id is not None

    @classmethod
    def from_section(cls, section: Section) -> NetworkSettings:
        """``vpcId`` + ``privateSubnetIds`` (existing), or ``cidrBlock``/``availabilityZones``/``natPerZone``."""
        section.reject_unknown(["vpcId", "privateSubnetIds", "cidrBlock", "availabilityZones", "natPerZone"])
        vpc_id = section.string("vpcId")
        subnets = section.string_list("privateSubnetIds")
        if vpc_id is not None:
            if not vpc_id.startswith("vpc-"):
                raise ConfigError(
                    f"{section.key('vpcId')}: {describe(vpc_id)} is not allowed; allowed: a VPC id (vpc-…)"
                )
            if len(subnets) < ZONE_COUNT or not all(s.startswith("subnet-") for s in subnets):
                raise ConfigError(
                    f"{section.key('privateSubnetIds')}: required with vpcId; allowed: at least {ZONE_COUNT} "
                    "subnet ids (subnet-…) in different availability zones (RDS needs two)"
                )
            for key in ("cidrBlock", "availabilityZones", "natPerZone"):
                if key in section.values:
                    raise ConfigError(f"{section.key(key)}: only applies to a created VPC; remove it or vpcId")
            return cls(vpc_id=vpc_id, private_subnet_ids=subnets)
        if subnets:
            raise ConfigError(f"{section.key('vpcId')}: required with privateSubnetIds")
        cidr = section.string("cidrBlock", DEFAULT_CIDR)
        try:
            network = ipaddress.IPv4Network(cidr)
        except ValueError:
            raise ConfigError(
                f"{section.key('cidrBlock')}: {describe(cidr)} is not allowed; allowed: an IPv4 CIDR"
            ) from None
        if not 16 <= network.prefixlen <= 18:
            raise ConfigError(
                f"{section.key('cidrBlock')}: {cidr} is not allowed; allowed: a /16 to /18 block (four /20 subnets)"
            )
        zones = section.string_list("availabilityZones")
        if zones and len(zones) != ZONE_COUNT:
            raise ConfigError(f"{section.key('availabilityZones')}: allowed: exactly {ZONE_COUNT} zone names")
        return cls(cidr_block=cidr, availability_zones=zones, nat_per_zone=section.boolean("natPerZone", False))


def subnet_blocks(cidr_block: str) -> tuple[list[str], list[str]]:
    """The private and public /20 blocks of a created VPC, one per zone."""
    network = ipaddress.IPv4Network(cidr_block)
    blocks = list(network.subnets(new_prefix=SUBNET_PREFIX))
    offset = min(PUBLIC_SUBNET_OFFSET, len(blocks) // 2)
    private = [str(blocks[i]) for i in range(ZONE_COUNT)]
    public = [str(blocks[offset + i]) for i in range(ZONE_COUNT)]
    return private, public


@dataclass
class NetworkArgs:
    """What the network is for, how it is set up, and where a created VPC's flow logs go."""

    settings: NetworkSettings
    owner: PipelineOwner  # names, tags, role path, account and region come from the pipeline's stack
    key_arn: pulumi.Input[str]  # the pipeline key: encrypts the flow-log group


def flow_log_delivery(log_group_arn: pulumi.Input[str]) -> g.Grant:
    """What VPC Flow Logs needs to deliver into one existing log group, and nothing else."""
    group = pulumi.Output.from_input(log_group_arn)
    return g.Grant("FlowLogDelivery", FLOW_LOG_DELIVERY_ACTIONS, [group, group.apply(lambda arn: f"{arn}:*")])


class Network(pulumi.ComponentResource):
    """``vpc_id`` and ``private_subnet_ids``: given by the stack, or a VPC created with NAT egress."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:Network", name, None, opts)
        settings = args.settings
        if settings.existing:
            self.vpc_id: pulumi.Output[str] = pulumi.Output.from_input(settings.vpc_id)
            self.private_subnet_ids: pulumi.Output[Sequence[str]] = pulumi.Output.from_input(
                list(settings.private_subnet_ids)
            )
        else:
            self._create(name, settings, args.owner.tags)
            self._harden(name, args, args.owner.tags)
        self.register_outputs({"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids})

    def _harden(self, name: str, args: NetworkArgs, tags: dict[str, str]) -> None:
        """Flow logs of all traffic into an encrypted group; the default security group without rules."""
        child = pulumi.ResourceOptions(parent=self)
        stack = args.owner.stack
        group_name = flow_log_group_name(stack.name_prefix, args.owner.pipeline)
        self.flow_log_group = encrypted_log_group(
            f"{name}-flow-logs", LogGroupArgs(group_name, stack.log_retention_days, args.key_arn, tags), self
        )
        self.flow_log_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            path=args.owner.role_path,
            # The flow log's id is not known before its role: any flow log of this account and region.
            assume_role_policy=trust_policy(FLOW_LOGS_PRINCIPAL, stack.account_id, stack.arn("ec2", "vpc-flow-log/*")),
            description=f"VPC Flow Logs delivery of {name} into its log group",
            tags=tags,
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=self.flow_log_role.id,
            policy=g.policy_document([flow_log_delivery(self.flow_log_group.arn)]),
            opts=child,
        )
        self.flow_log = aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=self.flow_log_role.arn,
            max_aggregation_interval=FLOW_LOG_AGGREGATION_S,
            tags={**tags, "Name": name},
            # Without the policy the first deliveries fail (and the flow log reports it).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )
        # Adopts the VPC's default group and removes every rule. The explicit empty lists (not
        # absent ones) make a rule added by hand later a diff that `pulumi up --refresh` removes.
        self.default_security_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags={**tags, "Name": f"{name}-default-unused"},
            opts=child,
        )

    def _create(self, name: str, settings: NetworkSettings, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = self._zones(settings)
        private_blocks, public_blocks = subnet_blocks(settings.cidr_block)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.cidr_block,
            enable_dns_hostnames=True,  # RDS endpoints and interface endpoints resolve inside the VPC
            enable_dns_support=True,
            tags={**tags, "Name": name},
            opts=child,
        )
        self.vpc_id = self.vpc.id
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags={**tags, "Name": name}, opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=self.vpc.id, tags={**tags, "Name": f"{name}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            opts=child,
        )
        nat_gateways: list[aws.ec2.NatGateway] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for index in range(ZONE_COUNT):
            zone = zones[index]
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=public_blocks[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,  # only the NAT gateway lives here, with its own address
                tags={**tags, "Name": f"{name}-public-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}", subnet_id=public.id, route_table_id=public_routes.id, opts=child
            )
            if index == 0 or settings.nat_per_zone:
                address = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc", tags={**tags, "Name": name}, opts=child)
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{index}",
                        allocation_id=address.id,
                        subnet_id=public.id,
                        tags={**tags, "Name": f"{name}-nat-{index}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                    )
                )
            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=private_blocks[index],
                availability_zone=zone,
                tags={**tags, "Name": f"{name}-private-{index}"},
                opts=child,
            )
            routes = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                tags={**tags, "Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.Route(
                f"{name}-private-{index}-default",
                route_table_id=routes.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_gateways[-1].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}", subnet_id=private.id, route_table_id=routes.id, opts=child
            )
            private_subnets.append(private)
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])

    def _zones(self, settings: NetworkSettings) -> list[pulumi.Input[str]]:
        if settings.availability_zones:
            return list(settings.availability_zones)
        # Zones that need no opt-in (Local Zones and Wavelength excluded), in the region's order.
        available = aws.get_availability_zones_output(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOptions(parent=self),
        )

        def zone(index: int) -> pulumi.Output[str]:
            def pick(names: Sequence[str]) -> str:
                if len(names) <= index:
                    raise ConfigError(f"the region offers {len(names)} availability zones; {ZONE_COUNT} are needed")
                return names[index]

            return available.names.apply(pick)

        return [zone(i) for i in range(ZONE_COUNT)]


@dataclass
class SecurityGroupArgs:
    """A security group with nothing allowed: rules are added by whoever connects what."""

    vpc_id: pulumi.Input[str]
    description: str
    tags: Mapping[str, str] = field(default_factory=dict)


def security_group(name: str, args: SecurityGroupArgs, parent: pulumi.Resource) -> aws.ec2.SecurityGroup:
    """A security group without inline rules (pulumi-aws removes AWS's default allow-all egress)."""
    return aws.ec2.SecurityGroup(
        name,
        vpc_id=args.vpc_id,
        description=args.description,
        tags={**args.tags, "Name": name},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def allow_https_egress(name: str, group_id: pulumi.Input[str], parent: pulumi.Resource) -> None:
    """Let a group reach HTTPS anywhere (third-party APIs and AWS endpoints through the NAT)."""
    aws.vpc.SecurityGroupEgressRule(
        name,
        security_group_id=group_id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv4="0.0.0.0/0",
        description="HTTPS to third-party APIs and AWS service endpoints",
        opts=pulumi.ResourceOptions(parent=parent),
    )
