"""Which pipelines read another's resources (pure names: no workflow module is imported here)."""

from __future__ import annotations

from collections.abc import Sequence

# Pipeline → the pipelines whose resources it reads: they must be enabled too, are built first, and
# their keys let the reader's roles decrypt (``key.key_policy`` readers).
REQUIRES: dict[str, tuple[str, ...]] = {"daily-analysis": ("uploads",)}


def readers_of(pipeline: str, enabled: Sequence[str]) -> list[str]:
    """The enabled pipelines that read ``pipeline``'s resources."""
    return [reader for reader, upstream in REQUIRES.items() if pipeline in upstream and reader in enabled]
