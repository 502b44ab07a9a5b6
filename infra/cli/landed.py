"""What an execution left behind: S3 objects, DynamoDB items and database rows of one pipeline.

``take(sandbox, pipeline)`` before and after the execution; ``changes(before, after)`` as lines.
Only the pipeline's own stores are read (resources tagged ``pipeline: <name>``), and printed as
readable Unicode (``ensure_ascii=False``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infra.sandbox.core import Sandbox

SHOWN_PER_STORE = 10
ITEM_CHARS = 300


@dataclass
class Snapshot:
    """The contents of a pipeline's stores at one moment."""

    objects: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)  # bucket → key → (etag, size)
    items: dict[str, dict[str, str]] = field(default_factory=dict)  # table → item key → item as JSON
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # database → table → row count
    unreadable: list[str] = field(default_factory=list)


def _pipeline_resources(sandbox: Sandbox, pipeline: str, *types: str):
    for typ in types:
        for resource in sandbox.program.of_type(typ):
            if (resource.inputs.get("tags") or {}).get("pipeline") == pipeline:
                yield resource


def _plain(value: Any) -> Any:
    """A DynamoDB attribute value as plain JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return base64.b64encode(value.value).decode()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _objects(sandbox: Sandbox, bucket: str) -> dict[str, tuple[str, int]]:
    found = {}
    for page in sandbox.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj.get("ETag", ""), int(obj.get("Size", 0)))
    return found


def _items(sandbox: Sandbox, table: str) -> dict[str, str]:
    from boto3.dynamodb.types import TypeDeserializer

    dynamodb = sandbox.client("dynamodb")
    key_names = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    deserialize = TypeDeserializer().deserialize
    found = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for raw in page["Items"]:
            item = _plain({name: deserialize(value) for name, value in raw.items()})
            found[_dumps([item.get(name) for name in key_names])] = _dumps(item)
    return found


def _row_counts(server) -> dict[str, int]:
    from psycopg import sql

    with server.connect(connect_timeout=10) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY 1, 2"
        ).fetchall()
        counts = {}
        for schema, name in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
            label = name if schema == "public" else f"{schema}.{name}"
            counts[label] = conn.execute(query).fetchone()[0]
        return counts


def take(sandbox: Sandbox, pipeline: str) -> Snapshot:
    """The objects, items and row counts of ``pipeline``'s buckets, tables and databases now."""
    snapshot = Snapshot()
    readers = []
    for bucket in _pipeline_resources(sandbox, pipeline, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        name = bucket.outputs.get("bucket") or bucket.id
        readers.append((f"s3://{name}", lambda n=name: snapshot.objects.__setitem__(n, _objects(sandbox, n))))
    for table in _pipeline_resources(sandbox, pipeline, "aws:dynamodb/table:Table"):
        name = table.outputs.get("name") or table.id
        readers.append((f"table {name}", lambda n=name: snapshot.items.__setitem__(n, _items(sandbox, n))))
    databases = sandbox.databases.servers() if sandbox.databases is not None else {}
    for instance in _pipeline_resources(sandbox, pipeline, "aws:rds/instance:Instance"):
        server = databases.get(instance.id)
        if server is not None:
            label = f"{instance.id}/{server.dbname}"
            readers.append((label, lambda s=server, n=label: snapshot.rows.__setitem__(n, _row_counts(s))))
    for label, read in readers:
        try:
            read()
        except Exception as exc:  # noqa: BLE001 - a store we cannot read is reported, not fatal
            snapshot.unreadable.append(f"{label}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    return snapshot


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.1f} KiB"


def _shown(lines: list[str]) -> list[str]:
    if len(lines) <= SHOWN_PER_STORE:
        return lines
    return [*lines[:SHOWN_PER_STORE], f"    … and {len(lines) - SHOWN_PER_STORE} more"]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _cut(text: str) -> str:
    return text if len(text) <= ITEM_CHARS else text[: ITEM_CHARS - 1] + "…"


def _row_change(table: str, before: int | None, after: int) -> str:
    if before is None:
        return f"    {table}: new table, {_plural(after, 'row')}"
    delta = after - before
    return f"    {table}: {delta:+,} row{'' if abs(delta) == 1 else 's'} ({after:,} in all)"


def _changes(label: str, noun: str, old: dict, new: dict, describe: Callable[[str, Any], str]) -> list[str]:
    """A heading counting new, changed and deleted entries of one store, then each new or changed one."""
    touched = [key for key, value in new.items() if old.get(key) != value]
    removed = set(old) - set(new)
    if not touched and not removed:
        return []
    created = sum(1 for key in touched if key not in old)
    heading = f"{label}: {_plural(created, noun)}"
    heading += f", {len(touched) - created} changed" if len(touched) > created else ""
    heading += f", {len(removed)} deleted" if removed else ""
    return [heading, *_shown([describe(key, new[key]) for key in touched])]


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What is new or changed in ``after``, a heading line per store and a line per object, item or table."""
    lines: list[str] = []
    for bucket, objects in after.objects.items():
        lines += _changes(
            f"S3 s3://{bucket}", "new object", before.objects.get(bucket, {}), dict(sorted(objects.items())),
            lambda key, meta: f"    {key} ({_size(meta[1])})",
        )  # fmt: skip
    for table, items in after.items.items():
        lines += _changes(
            f"DynamoDB {table}", "new item", before.items.get(table, {}), items, lambda key, item: f"    {_cut(item)}"
        )
    for database, counts in after.rows.items():
        old = before.rows.get(database, {})
        moved = [_row_change(name, old.get(name), count) for name, count in counts.items() if count != old.get(name)]
        if moved:
            lines.append(f"PostgreSQL {database}:")
            lines += moved
    lines += [f"could not read {problem}" for problem in after.unreadable]
    return lines
