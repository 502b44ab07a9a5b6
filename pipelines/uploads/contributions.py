"""Idempotent contributions: a store-day total is the sum over the latest version of every upload.

An upload (a ``Source``: bucket + key) *contributes* one partial ``StoreDay`` per (store, date)
it holds. A store-day's stored total remembers, per source, which version it currently
includes (``StoreDayTotal.contributors``); the source's full contribution (its partial
summaries) is kept beside it so it can be taken back out. Processing a version then is:

- the same version again → no change (``plan`` returns no changes; ``apply`` is a no-op too if
  a change is replayed after a crash, because the total already names the new version);
- a new version of the same key → for every store-day either version touches: subtract the old
  partial, add the new one (a store-day only the old version touched loses it entirely);
- an older version delivered late (its S3 ``sequencer`` is lower than the stored one's) → no
  change: the later upload stays the truth;
- a different key → its own contributor entry: the two add up.

``apply`` is the model of one conditional write: it refuses (``ContributionConflictError``, a
retryable error) when the total does not include the version the change was planned against,
which is what a concurrent execution having written first looks like. The caller re-reads
and re-plans. Each store-day is applied on its own, so a crash half-way leaves every store-day
either fully at the old version or fully at the new one, and a rerun finishes the rest.

DynamoDB layout: see ``layout``; the write plan that runs these changes: ``store``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.uploads.errors import ContributionConflictError, CurrencyConflictError
from pipelines.uploads.summary import StoreDay

StoreDayKey = tuple[str, str]  # (storeId, businessDate)


@dataclass(frozen=True, slots=True)
class Source:
    """Where an upload lives; its versions replace each other."""

    bucket: str
    key: str

    @property
    def id(self) -> str:
        """A stable identifier: ``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"


def sequencer_before(first: str, second: str) -> bool:
    """Whether S3 event sequencer ``first`` comes before ``second`` (both of the same key).

    S3 documents that the greater hexadecimal sequencer of one key is the later event. Strings of
    different lengths are right-padded with zeros to the same length here; that padding rule is
    an assumption to confirm against the S3 documentation before relying on it for ordering.
    """
    width = max(len(first), len(second))
    return int(first.ljust(width, "0"), 16) < int(second.ljust(width, "0"), 16)


@dataclass(frozen=True)
class Contribution:
    """What one version of a source adds to each store-day it touches."""

    source: Source
    version: str  # the S3 version id, or the ETag in an unversioned bucket
    summaries: dict[StoreDayKey, StoreDay]
    sequencer: str | None = None

    def is_older_than(self, other: Contribution) -> bool:
        """Whether S3's sequencers say this version was written before ``other``."""
        if self.sequencer is None or other.sequencer is None:
            return False
        return sequencer_before(self.sequencer, other.sequencer)


@dataclass(frozen=True)
class Change:
    """One store-day's conditional update: expect ``expected`` for the source, then swap ``minus`` for ``plus``."""

    key: StoreDayKey
    source_id: str
    expected: str | None  # the version the total must include now (None: none of this source)
    version: str | None  # the version it includes after (None: none any more)
    minus: StoreDay | None
    plus: StoreDay | None


@dataclass(frozen=True)
class Plan:
    """The changes that make the totals include ``new`` instead of ``previous``; ``outcome`` says why."""

    outcome: str  # "new", "replaced", "unchanged" (same version) or "stale" (an older version)
    changes: tuple[Change, ...] = ()


def plan(previous: Contribution | None, new: Contribution) -> Plan:
    """What to add and subtract per store-day so the totals hold ``new`` rather than ``previous``."""
    if previous is None:
        changes = tuple(
            Change(key, new.source.id, None, new.version, None, day) for key, day in sorted(new.summaries.items())
        )
        return Plan("new", changes)
    if previous.source != new.source:
        raise ValueError(f"{previous.source.id} and {new.source.id} are different uploads: they add up, not replace")
    if previous.version == new.version:
        return Plan("unchanged")
    if new.is_older_than(previous):
        return Plan("stale")
    changes = []
    for key in sorted(previous.summaries.keys() | new.summaries.keys()):
        old, day = previous.summaries.get(key), new.summaries.get(key)
        changes.append(
            Change(key, new.source.id, previous.version if old else None, new.version if day else None, old, day)
        )
    return Plan("replaced", tuple(changes))


@dataclass
class StoreDayTotal:
    """A stored store-day: the summed ``summary`` and, per source id, the version it includes."""

    summary: StoreDay
    contributors: dict[str, str] = field(default_factory=dict)


def apply(total: StoreDayTotal | None, change: Change) -> StoreDayTotal | None:
    """``total`` after ``change`` (None: the store-day has no contributor left, delete it).

    A replayed change (the total already holds ``change.version``) is a no-op; a total holding
    neither the expected nor the new version raises ``ContributionConflictError``.
    """
    held = total.contributors.get(change.source_id) if total else None
    if held == change.version:
        return total  # replayed: the total already holds this version (or, for a removal, none)
    if held != change.expected:
        raise ContributionConflictError(
            f"{change.key[0]} {change.key[1]}: holds version {held!r} of {change.source_id}, "
            f"expected {change.expected!r}: another execution wrote first"
        )
    currency = (change.plus or change.minus).currency  # type: ignore[union-attr]
    result = (
        StoreDayTotal(total.summary.copy(), dict(total.contributors)) if total else StoreDayTotal(StoreDay(currency))
    )
    if change.minus is not None:
        result.summary.add(change.minus, -1)
    if change.plus is not None:
        if result.summary.currency != change.plus.currency:
            if len(result.contributors) > 1 or not result.summary.is_empty():
                others = sorted(set(result.contributors) - {change.source_id})
                raise CurrencyConflictError(
                    f"{change.key[0]} {change.key[1]}: {change.plus.currency} cannot join the "
                    f"{result.summary.currency} of {', '.join(others)}"
                )
            result.summary = StoreDay(change.plus.currency)
        result.summary.add(change.plus)
    if change.version is None:
        result.contributors.pop(change.source_id, None)
    else:
        result.contributors[change.source_id] = change.version
    return result if result.contributors else None
