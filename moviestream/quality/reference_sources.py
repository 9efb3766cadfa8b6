"""Reference datasets for the rules that compare with one: bound as ``ALIAS=SOURCE``, loaded into
Spark, and reloaded on an interval by a streaming job.

A SOURCE is one of:
- a CSV or Parquet file (``.parquet``: Parquet, anything else: CSV with a header row), local or
  ``s3://bucket/key``;
- a warehouse table, ``warehouse:schema.table``, read through a query function the entry
  supplies (the job's or the CLI's warehouse; this module imports no warehouse code).
Everything is read with pyarrow on the driver (CSV types are inferred: a column of whole numbers
is an integer), capped at MAX_ROWS rows and MAX_BYTES bytes in memory, and handed to Spark as a
cached DataFrame that the rules broadcast in their joins: a reference is a lookup list, not a
second fact table. A source that cannot be read is one clear line (ReferenceLoadError).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

MAX_ROWS = 1_000_000
MAX_BYTES = 256 * 1024 * 1024
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^warehouse:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
# The schemas a warehouse: reference may name (--ref-schemas): the pipeline's own by default, so
# a ruleset cannot read the catalog, other applications' schemas, or whatever else the job's
# database user can see.
DEFAULT_SCHEMAS: tuple[str, ...] = ("movies",)


class ReferenceLoadError(ValueError):
    """A binding or a source that cannot be used: one line, naming the alias."""


@dataclass(frozen=True)
class Binding:
    alias: str
    source: str


def parse_bindings(texts: Sequence[str], schemas: Sequence[str] = DEFAULT_SCHEMAS) -> tuple[Binding, ...]:
    """``ALIAS=SOURCE`` items (the CLI's repeated --ref; the Glue entries' comma-separated list);
    a ``warehouse:schema.table`` must name one of ``schemas`` (case as the database folds it)."""
    bindings: dict[str, Binding] = {}
    allowed = {s.strip().lower() for s in schemas if s.strip()}
    for text in texts:
        alias, eq, source = text.partition("=")
        alias, source = alias.strip(), source.strip()
        if not eq or not _ALIAS.match(alias) or not source:
            raise ReferenceLoadError(f"--ref {text!r}: expected ALIAS=SOURCE (an alias like certificates)")
        if alias in bindings:
            raise ReferenceLoadError(f"--ref {alias}: bound twice")
        if source.startswith("warehouse:"):
            table = _TABLE.match(source)
            if table is None:
                raise ReferenceLoadError(f"--ref {alias}: expected warehouse:schema.table, got {source!r}")
            if table.group(1).lower() not in allowed:
                raise ReferenceLoadError(
                    f"--ref {alias}: schema {table.group(1)!r} is not one references may read"
                    f" (allowed: {', '.join(sorted(allowed)) or 'none'}; --ref-schemas)"
                )
        bindings[alias] = Binding(alias, source)
    return tuple(bindings.values())


def split_list(text: str) -> list[str]:
    """The Glue entries' ``--references "a=SOURCE,b=SOURCE"`` (empty: none)."""
    return [item for item in (t.strip() for t in text.split(",")) if item]


def _from_bytes(data: bytes, name: str) -> pa.Table:
    if name.lower().endswith(".parquet"):
        return pq.read_table(io.BytesIO(data))
    return pa_csv.read_csv(io.BytesIO(data))


# Runs one SELECT on the warehouse: (column names, rows).
Query = Callable[[str], tuple[list[str], list[tuple]]]


def read_table(
    binding: Binding, s3_client: Callable[[], Any] | None = None, query: Query | None = None
) -> pa.Table:
    """The source as an Arrow table, within the caps; ReferenceLoadError otherwise."""
    source = binding.source
    where = f"reference {binding.alias!r} ({source})"
    try:
        if m := _TABLE.match(source):
            if query is None:
                raise ReferenceLoadError(f"{where}: no warehouse to read it from")
            columns, rows = query(f"SELECT * FROM {m.group(1)}.{m.group(2)} LIMIT {MAX_ROWS + 1}")
            table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        elif source.startswith("s3://"):
            bucket, _, key = source.removeprefix("s3://").partition("/")
            if not bucket or not key:
                raise ReferenceLoadError(f"{where}: expected s3://bucket/key")
            if s3_client is None:
                from moviestream.core.config import AwsSettings

                s3_client = lambda: AwsSettings().client("s3")  # noqa: E731
            obj = s3_client().get_object(Bucket=bucket, Key=key)
            body = obj["Body"].read(MAX_BYTES + 1)  # never more than the cap, whatever the object says
            if obj.get("ContentLength", 0) > MAX_BYTES or len(body) > MAX_BYTES:
                raise ReferenceLoadError(f"{where}: over the {MAX_BYTES // 2**20} MiB cap for a reference")
            table = _from_bytes(body, key)
        else:
            path = Path(source)
            if not path.exists():
                raise ReferenceLoadError(f"{where}: file not found")
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            if sum(p.stat().st_size for p in files) > MAX_BYTES:  # before anything is read
                raise ReferenceLoadError(f"{where}: over the {MAX_BYTES // 2**20} MiB cap for a reference")
            if path.is_dir() or path.suffix.lower() == ".parquet":
                table = pq.read_table(path)
            else:
                table = pa_csv.read_csv(path)
    except ReferenceLoadError:
        raise
    except Exception as exc:  # any failure to read is this one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReferenceLoadError(f"{where}: {first}") from exc
    if table.num_rows > MAX_ROWS or table.nbytes > MAX_BYTES:
        raise ReferenceLoadError(
            f"{where}: {table.num_rows:,} rows, {table.nbytes / 2**20:.0f} MiB: over the cap for a "
            f"reference ({MAX_ROWS:,} rows, {MAX_BYTES // 2**20} MiB), which every executor receives"
        )
    return table


class ReferenceSet:
    """The bound references as Spark DataFrames, loaded at the first use and again when older than
    ``reload_s`` (0: never), so a streaming job sees a reference list change without a restart.
    A reload that fails keeps the previous copy and logs why; the first load's failure raises."""

    def __init__(
        self,
        spark: Any,
        bindings: Sequence[Binding],
        reload_s: float = 0.0,
        s3_client: Callable[[], Any] | None = None,
        query: Query | None = None,
        on_reload_failed: Callable[[str], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spark = spark
        self.clock = clock  # seconds, monotonic (tests pass their own)
        self.bindings = tuple(bindings)
        self.reload_s = reload_s
        self.s3_client = s3_client
        self.query = query
        self.on_reload_failed = on_reload_failed
        self.loaded_at: float | None = None
        self.frames: dict[str, Any] = {}
        self.loads = 0

    def current(self) -> Mapping[str, Any]:
        if not self.bindings:
            return {}
        due = self.loaded_at is None or (self.reload_s > 0 and self.clock() - self.loaded_at >= self.reload_s)
        if due:
            try:
                self._load()
            except ReferenceLoadError as exc:
                if self.loaded_at is None:
                    raise
                self.on_reload_failed(str(exc))
                self.loaded_at = self.clock()  # try again after the next interval
        return self.frames

    def _load(self) -> None:
        # Every source is read before any replaces the old copy: a failure keeps them all.
        tables = {b.alias: read_table(b, self.s3_client, self.query) for b in self.bindings}
        old = self.frames
        self.frames = {alias: self.spark.createDataFrame(table).cache() for alias, table in tables.items()}
        for frame in old.values():
            frame.unpersist()
        self.loaded_at = self.clock()
        self.loads += 1
