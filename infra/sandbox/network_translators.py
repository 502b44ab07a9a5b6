"""Translations of the VPC resources (network, subnets, gateways, routes, security groups, flow logs) into moto.

Same contract as ``translators``: camelCase inputs in, ``(id, outputs)`` with moto's
identifiers out. Pulumi numbers arrive as floats, hence the ``int()`` around ports.
"""

from __future__ import annotations

import zlib
from typing import Any

from infra.sandbox.mocks import DeclaredResource, EmulatorMocks
from infra.sandbox.translator_support import _account, _client, _name, _tags_list


def _ec2(mocks: EmulatorMocks):
    return _client(mocks, "ec2")


def _ec2_arn(mocks: EmulatorMocks, kind: str, ident: str) -> str:
    return f"arn:aws:ec2:{mocks.region}:{_account(mocks)}:{kind}/{ident}"


def _tag_spec(resource_type: str, r: DeclaredResource) -> dict[str, Any]:
    tags = r.inputs.get("tags")
    return {"TagSpecifications": [{"ResourceType": resource_type, "Tags": _tags_list(tags)}]} if tags else {}


def vpc(mocks, r):
    inputs = r.inputs
    ec2 = _ec2(mocks)
    vpc_id = ec2.create_vpc(CidrBlock=inputs["cidrBlock"], **_tag_spec("vpc", r))["Vpc"]["VpcId"]
    # One attribute per ModifyVpcAttribute call (an AWS rule moto keeps).
    if "enableDnsSupport" in inputs:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": bool(inputs["enableDnsSupport"])})
    if "enableDnsHostnames" in inputs:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": bool(inputs["enableDnsHostnames"])})
    in_vpc = {"Name": "vpc-id", "Values": [vpc_id]}
    default_sg = ec2.describe_security_groups(Filters=[in_vpc, {"Name": "group-name", "Values": ["default"]}])
    main_table = ec2.describe_route_tables(Filters=[in_vpc, {"Name": "association.main", "Values": ["true"]}])
    main_table_id = main_table["RouteTables"][0]["RouteTableId"]
    return vpc_id, {
        "id": vpc_id,
        "arn": _ec2_arn(mocks, "vpc", vpc_id),
        "cidrBlock": inputs["cidrBlock"],
        "defaultSecurityGroupId": default_sg["SecurityGroups"][0]["GroupId"],
        "mainRouteTableId": main_table_id,
        "defaultRouteTableId": main_table_id,
    }


def subnet(mocks, r):
    inputs = r.inputs
    ec2 = _ec2(mocks)
    kwargs: dict[str, Any] = dict(VpcId=inputs["vpcId"], CidrBlock=inputs["cidrBlock"], **_tag_spec("subnet", r))
    if inputs.get("availabilityZone"):
        kwargs["AvailabilityZone"] = inputs["availabilityZone"]
    created = ec2.create_subnet(**kwargs)["Subnet"]
    if inputs.get("mapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=created["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    return created["SubnetId"], {
        "id": created["SubnetId"],
        "arn": created["SubnetArn"],
        "availabilityZone": created["AvailabilityZone"],
        "availabilityZoneId": created["AvailabilityZoneId"],
        "vpcId": created["VpcId"],
        "cidrBlock": created["CidrBlock"],
        "mapPublicIpOnLaunch": bool(inputs.get("mapPublicIpOnLaunch")),
    }


def internet_gateway(mocks, r):
    ec2 = _ec2(mocks)
    igw_id = ec2.create_internet_gateway(**_tag_spec("internet-gateway", r))["InternetGateway"]["InternetGatewayId"]
    if r.inputs.get("vpcId"):
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=r.inputs["vpcId"])
    return igw_id, {"id": igw_id, "arn": _ec2_arn(mocks, "internet-gateway", igw_id)}


def eip(mocks, r):
    address = _ec2(mocks).allocate_address(Domain=r.inputs.get("domain", "vpc"), **_tag_spec("elastic-ip", r))
    allocation = address["AllocationId"]
    return allocation, {
        "id": allocation,
        "allocationId": allocation,
        "publicIp": address["PublicIp"],
        "domain": address["Domain"],
        "arn": _ec2_arn(mocks, "elastic-ip", allocation),
    }


def nat_gateway(mocks, r):
    inputs = r.inputs
    kwargs: dict[str, Any] = dict(SubnetId=inputs["subnetId"], **_tag_spec("natgateway", r))
    if inputs.get("allocationId"):
        kwargs["AllocationId"] = inputs["allocationId"]
    if inputs.get("connectivityType"):
        kwargs["ConnectivityType"] = inputs["connectivityType"]
    nat = _ec2(mocks).create_nat_gateway(**kwargs)["NatGateway"]
    address = (nat.get("NatGatewayAddresses") or [{}])[0]
    return nat["NatGatewayId"], {
        "id": nat["NatGatewayId"],
        "subnetId": nat["SubnetId"],
        "allocationId": address.get("AllocationId", ""),
        "publicIp": address.get("PublicIp", ""),
        "privateIp": address.get("PrivateIp", ""),
        "networkInterfaceId": address.get("NetworkInterfaceId", ""),
    }


def _route_target(route: dict[str, Any]) -> dict[str, str]:
    targets = {"gatewayId": "GatewayId", "natGatewayId": "NatGatewayId"}
    given = {boto: route[key] for key, boto in targets.items() if route.get(key)}
    if len(given) != 1:
        raise ValueError(f"a route needs exactly one of gatewayId / natGatewayId (all the sandbox emulates): {route}")
    return given


def _create_route(mocks, table_id: str, route: dict[str, Any]) -> str:
    destination = route.get("destinationCidrBlock") or route["cidrBlock"]  # cidrBlock: an inline route
    _ec2(mocks).create_route(RouteTableId=table_id, DestinationCidrBlock=destination, **_route_target(route))
    # Terraform's id for a route: r-<table id><crc32 of the destination>.
    return f"r-{table_id}{zlib.crc32(destination.encode())}"


def route_table(mocks, r):
    table_id = _ec2(mocks).create_route_table(VpcId=r.inputs["vpcId"], **_tag_spec("route-table", r))["RouteTable"][
        "RouteTableId"
    ]
    for route in r.inputs.get("routes") or []:
        _create_route(mocks, table_id, route)
    return table_id, {"id": table_id, "arn": _ec2_arn(mocks, "route-table", table_id), "vpcId": r.inputs["vpcId"]}


def route(mocks, r):
    route_id = _create_route(mocks, r.inputs["routeTableId"], r.inputs)
    return route_id, {"id": route_id}


def route_table_association(mocks, r):
    inputs = r.inputs
    target = {"SubnetId": inputs["subnetId"]} if inputs.get("subnetId") else {"GatewayId": inputs["gatewayId"]}
    association = _ec2(mocks).associate_route_table(RouteTableId=inputs["routeTableId"], **target)["AssociationId"]
    return association, {"id": association}


def security_group(mocks, r):
    inputs = r.inputs
    if inputs.get("ingress") or inputs.get("egress"):
        # Inline rules are not emulated; dropping them silently would misstate what is deployed.
        raise ValueError("inline ingress/egress rules are not emulated: declare aws.vpc.SecurityGroup*Rule resources")
    name = _name(r, 255)
    ec2 = _ec2(mocks)
    kwargs: dict[str, Any] = dict(
        GroupName=name, Description=inputs.get("description") or "Managed by Pulumi", **_tag_spec("security-group", r)
    )
    if inputs.get("vpcId"):
        kwargs["VpcId"] = inputs["vpcId"]
    created = ec2.create_security_group(**kwargs)
    group_id = created["GroupId"]
    if inputs.get("vpcId"):
        # AWS gives a new VPC security group an allow-all egress rule; Terraform (so pulumi-aws)
        # revokes it, and only declared egress rules remain. The emulated group does the same.
        ec2.revoke_security_group_egress(
            GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
    return group_id, {
        "id": group_id,
        "arn": created["SecurityGroupArn"],
        "name": name,
        "vpcId": inputs.get("vpcId", ""),
        "ownerId": _account(mocks),
        "description": kwargs["Description"],
    }


def _default_group(mocks, vpc_id: str) -> dict[str, Any]:
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    groups = _ec2(mocks).describe_security_groups(Filters=in_vpc)["SecurityGroups"]
    if not groups:
        raise ValueError(f"VPC {vpc_id} has no default security group (is it a VPC of this sandbox?)")
    return groups[0]


def default_security_group(mocks, r):
    inputs = r.inputs
    if inputs.get("ingress") or inputs.get("egress"):
        raise ValueError("inline ingress/egress rules are not emulated: declare aws.vpc.SecurityGroup*Rule resources")
    ec2 = _ec2(mocks)
    group_id = _default_group(mocks, inputs["vpcId"])["GroupId"]
    # As the provider does on adoption: every rule the group has goes, and only declared ones
    # (none are emulated) come back. AWS's default group allows all traffic from itself and all
    # traffic out; moto's has only the egress rule. Both end up empty.
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    ingress = [x["SecurityGroupRuleId"] for x in rules["SecurityGroupRules"] if not x["IsEgress"]]
    egress = [x["SecurityGroupRuleId"] for x in rules["SecurityGroupRules"] if x["IsEgress"]]
    if ingress:
        ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=ingress)
    if egress:
        ec2.revoke_security_group_egress(GroupId=group_id, SecurityGroupRuleIds=egress)
    if inputs.get("tags"):
        ec2.create_tags(Resources=[group_id], Tags=_tags_list(inputs["tags"]))
    group = _default_group(mocks, inputs["vpcId"])
    return group_id, {
        "id": group_id,
        "arn": _ec2_arn(mocks, "security-group", group_id),
        "name": group["GroupName"],
        "description": group["Description"],
        "vpcId": group["VpcId"],
        "ownerId": group["OwnerId"],
        "ingress": [],
        "egress": [],
    }


_FLOW_LOG_TARGETS = {"vpcId": "VPC", "subnetId": "Subnet", "eniId": "NetworkInterface"}


def _log_group_name(arn: str) -> str:
    # arn:aws:logs:<region>:<account>:log-group:<name>[:*]
    name = arn.split(":log-group:", 1)[-1]
    return name[:-2] if name.endswith(":*") else name


def flow_log(mocks, r):
    inputs = r.inputs
    targets = [(kind, inputs[key]) for key, kind in _FLOW_LOG_TARGETS.items() if inputs.get(key)]
    if len(targets) != 1:
        raise ValueError(f"a flow log needs exactly one of {', '.join(_FLOW_LOG_TARGETS)} (all the sandbox emulates)")
    (resource_type, resource_id), destination_type = targets[0], inputs.get("logDestinationType") or "cloud-watch-logs"
    kwargs: dict[str, Any] = dict(
        ResourceType=resource_type,
        ResourceIds=[resource_id],
        TrafficType=inputs["trafficType"],
        LogDestinationType=destination_type,
        LogDestination=inputs["logDestination"],
        MaxAggregationInterval=int(inputs.get("maxAggregationInterval") or 600),
        **_tag_spec("vpc-flow-log", r),
    )
    if destination_type == "cloud-watch-logs":
        role = inputs.get("iamRoleArn")
        if not role:
            raise ValueError("a flow log to CloudWatch Logs needs iamRoleArn (the role VPC Flow Logs delivers with)")
        # AWS refuses a role it cannot find; moto accepts any ARN.
        _client(mocks, "iam").get_role(RoleName=role.rsplit("/", 1)[-1])
        kwargs["DeliverLogsPermissionArn"] = role
        # moto checks the destination group by its name only (and marks delivery FAILED without it);
        # AWS describes a flow log created from the ARN with both, as this one then reads.
        kwargs["LogGroupName"] = _log_group_name(inputs["logDestination"])
    if inputs.get("logFormat"):
        kwargs["LogFormat"] = inputs["logFormat"]
    created = _ec2(mocks).create_flow_logs(**kwargs)
    if created.get("Unsuccessful"):
        raise ValueError(f"the flow log was refused: {created['Unsuccessful']}")
    flow_log_id = created["FlowLogIds"][0]
    return flow_log_id, {"id": flow_log_id, "arn": _ec2_arn(mocks, "vpc-flow-log", flow_log_id)}


def _rule_permission(inputs: dict[str, Any]) -> dict[str, Any]:
    protocol = str(inputs["ipProtocol"])
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        permission.update(FromPort=int(inputs["fromPort"]), ToPort=int(inputs["toPort"]))
    described = {"Description": inputs["description"]} if inputs.get("description") else {}
    if inputs.get("cidrIpv4"):
        permission["IpRanges"] = [{"CidrIp": inputs["cidrIpv4"], **described}]
    elif inputs.get("cidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": inputs["cidrIpv6"], **described}]
    elif inputs.get("referencedSecurityGroupId"):
        permission["UserIdGroupPairs"] = [{"GroupId": inputs["referencedSecurityGroupId"], **described}]
    elif inputs.get("prefixListId"):
        permission["PrefixListIds"] = [{"PrefixListId": inputs["prefixListId"], **described}]
    else:
        raise ValueError("a security group rule needs cidrIpv4, cidrIpv6, referencedSecurityGroupId or prefixListId")
    return permission


def _security_group_rule(mocks, r, egress: bool):
    ec2 = _ec2(mocks)
    authorize = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    added = authorize(
        GroupId=r.inputs["securityGroupId"],
        IpPermissions=[_rule_permission(r.inputs)],
        **_tag_spec("security-group-rule", r),
    )
    rule_id = added["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    return rule_id, {
        "id": rule_id,
        "arn": _ec2_arn(mocks, "security-group-rule", rule_id),
        "securityGroupRuleId": rule_id,
    }


def security_group_ingress_rule(mocks, r):
    return _security_group_rule(mocks, r, egress=False)


def security_group_egress_rule(mocks, r):
    return _security_group_rule(mocks, r, egress=True)


NETWORK_TRANSLATORS = {
    "aws:ec2/vpc:Vpc": vpc,
    "aws:ec2/subnet:Subnet": subnet,
    "aws:ec2/internetGateway:InternetGateway": internet_gateway,
    "aws:ec2/eip:Eip": eip,
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/routeTable:RouteTable": route_table,
    "aws:ec2/route:Route": route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": route_table_association,
    "aws:ec2/securityGroup:SecurityGroup": security_group,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": default_security_group,
    "aws:ec2/flowLog:FlowLog": flow_log,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": security_group_ingress_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": security_group_egress_rule,
}
