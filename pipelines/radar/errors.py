"""Errors specific to the radar pipeline; their class names are ASL ``ErrorEquals`` values."""

from __future__ import annotations

from pipelines.common.errors import NonRetryableError


class NoValidOrganizationsError(NonRetryableError):
    """The registry holds no active, valid organization; the message carries the rejection report."""


class OrganizationsFailedError(NonRetryableError):
    """At least one organization's fetch or files failed; the others' files are written."""


class RadarQueryError(NonRetryableError):
    """The Radar API rejected a query as invalid (400/422): the org's parameters are wrong."""


class RegistryTooLargeError(NonRetryableError):
    """The registry does not fit in a Step Functions payload (256 KB)."""
