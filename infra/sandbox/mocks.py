"""Pulumi mocks: record every declared resource, and (in the sandbox) create it in the emulator.

``RecordingMocks`` answers with synthetic identifiers in AWS's format of each resource type
(``aws_identifiers``) and touches nothing: it backs offline ``synth`` and the program tests.
``EmulatorMocks`` hands each custom resource to a translator that creates it in moto through real
boto3 calls and answers with moto's identifiers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pulumi

from infra.sandbox.aws_identifiers import ACCOUNT_ID, REGION, physical_name, synthetic_outputs

if TYPE_CHECKING:
    from infra.sandbox.databases import DatabaseFleet

__all__ = [
    "ACCOUNT_ID",
    "REGION",
    "DeclaredResource",
    "EmulatorMocks",
    "RecordingMocks",
    "UnsupportedResourceType",
    "physical_name",
    "synthetic_outputs",
    "unwrap_secret",
]

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class DeclaredResource:
    """One resource the program declared: Pulumi type, logical name, inputs and the answer."""

    typ: str
    name: str
    inputs: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    custom: bool = True


class UnsupportedResourceType(Exception):
    """The sandbox has no translation for a declared resource type."""


def unwrap_secret(value: Any) -> Any:
    """The plain value of a secret-wrapped input (``{<sig>: <secret sig>, "value": …}``)."""
    if isinstance(value, Mapping) and SECRET_SIG in value.values() and "value" in value:
        return value["value"]
    return value


AVAILABILITY_ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"


def _zones_result(region: str, zones: list[tuple[str, str]], args: Mapping[str, Any]) -> dict[str, Any]:
    """The getAvailabilityZones answer for (name, zone id) pairs, honouring its exclude arguments."""
    excluded = set(args.get("excludeNames") or []) | set(args.get("excludeZoneIds") or [])
    kept = [(name, zone_id) for name, zone_id in zones if name not in excluded and zone_id not in excluded]
    return {
        "id": region,
        "names": [name for name, _ in kept],
        "zoneIds": [zone_id for _, zone_id in kept],
        "groupNames": [region],
        "state": args.get("state"),
    }


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every declared resource; answers with synthetic identifiers."""

    def __init__(self, region: str = REGION):
        self.region = region
        self.resources: list[DeclaredResource] = []
        self._lock = threading.Lock()

    def create(self, resource: DeclaredResource) -> tuple[str, dict[str, Any]]:
        """Create ``resource``; return its id and computed outputs (AWS's identifier formats, hashed)."""
        return synthetic_outputs(resource.typ, resource.name, resource.inputs, region=self.region)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource = DeclaredResource(typ=args.typ, name=args.name, inputs=dict(args.inputs), custom=bool(args.custom))
        if not resource.custom or args.typ.startswith("pulumi:providers:"):
            resource.id = f"{args.name}_id" if resource.custom else ""
        else:
            resource.id, computed = self.create(resource)
            resource.outputs = computed
        with self._lock:
            self.resources.append(resource)
        return resource.id, {**resource.inputs, **resource.outputs}

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/sandbox", "userId": "sandbox"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        if args.token == AVAILABILITY_ZONES:
            return self.availability_zones(dict(args.args or {}))
        raise UnsupportedResourceType(f"the sandbox cannot answer the invoke {args.token}")

    def of_type(self, typ: str) -> list[DeclaredResource]:
        """Declared custom resources of one Pulumi type."""
        return [r for r in self.resources if r.typ == typ]

    def availability_zones(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``getAvailabilityZones``: three synthetic zones of the region (``<region>a`` … ``c``)."""
        parts = self.region.split("-")
        short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]  # us-west-2 → usw2
        zones = [(f"{self.region}{letter}", f"{short}-az{n}") for n, letter in enumerate("abc", 1)]
        return _zones_result(self.region, zones, args)


Translator = Callable[["EmulatorMocks", DeclaredResource], tuple[str, dict[str, Any]]]


class EmulatorMocks(RecordingMocks):
    """Creates every declared resource in moto; an untranslatable type is an error naming it."""

    def __init__(
        self,
        translators: Mapping[str, Translator],
        region: str = REGION,
        databases: DatabaseFleet | None = None,
        clients: Callable[[str], Any] | None = None,
    ):
        super().__init__(region)
        self.translators = translators
        self.databases = databases  # the PostgreSQL servers behind declared RDS instances
        # Who deploys: the sandbox passes its operator's clients; without, the default credentials.
        self.clients = clients
        self.errors: list[str] = []
        self._emulator_lock = threading.RLock()

    def client(self, service: str):
        """A client of the emulator for the deploying identity."""
        if self.clients is not None:
            return self.clients(service)
        return boto3.client(service, region_name=self.region)

    def availability_zones(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``getAvailabilityZones`` answered from moto's ``DescribeAvailabilityZones``."""
        filters = [{"Name": "state", "Values": [args["state"]]}] if args.get("state") else []
        described = self.client("ec2").describe_availability_zones(Filters=filters)
        zones = [(z["ZoneName"], z["ZoneId"]) for z in described["AvailabilityZones"]]
        return _zones_result(self.region, zones, args)

    def create(self, resource: DeclaredResource) -> tuple[str, dict[str, Any]]:
        translate = self.translators.get(resource.typ)
        if translate is None:
            message = f"the sandbox cannot emulate resource type {resource.typ} (declared as {resource.name!r})"
            self.errors.append(message)
            raise UnsupportedResourceType(message)
        try:
            # Pulumi's mock runtime registers resources from several threads; moto's backends are
            # not thread-safe (a role created while another call iterates the roles fails).
            with self._emulator_lock:
                return translate(self, resource)
        except Exception as exc:
            self.errors.append(f"{resource.typ} {resource.name!r}: {exc}")
            raise
