"""Bulk replay on every core: envelopes and aggregates are built by worker processes.

The main process cuts the byte stream into chunks of whole CSV rows. It does not parse: it tracks
the parity of quote characters per physical line (a record ends at a line end outside quotes),
which is cheap and knows each row's absolute row and line numbers. Workers parse their chunk with
the csv module, build envelopes and per-shard aggregates, and check that every row ends on the
line the main process predicted. When all do, the chunked parse is the sequential parse; when one
does not (quote characters inside unquoted fields can fool the parity), the main process stops
at that chunk and the caller reads the rest sequentially from the chunk's first row. Results are
handed to the sink in file order, so per-shard order is that of the file.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from producer.aggregation import AggregateBuilder, Entry, ShardMap, too_large
from producer.csv_source import InputError, Reject, check_header, classify
from producer.envelope import MillisecondClock, envelope_bytes

BLOCK_BYTES = 4 * 1024 * 1024
CHUNK_ROWS = 8192
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Chunk:
    index: int
    first_row: int  # row number of the chunk's first data row
    first_line: int  # physical line number of the chunk's first line
    data: bytes
    row_end_lines: tuple[int, ...]  # the line each data row ends on (csv's line_num)


@dataclass(frozen=True)
class Context:
    location: str
    source: str
    header: tuple[str, ...]
    shard_starts: tuple[int, ...]
    shard_ids: tuple[str, ...]
    aggregate: bool
    start_after: int  # rows up to this one were handled by an earlier run (--resume)


@dataclass
class ChunkResult:
    index: int
    first_row: int
    mismatch: bool = False
    rows_read: int = 0
    rows_skipped: int = 0
    rejects: list[dict] = field(default_factory=list)
    entries: list[tuple[str, Entry]] = field(default_factory=list)


def split(stream: BinaryIO, location: str) -> tuple[tuple[str, ...], Iterator[Chunk]]:
    """(header, chunks). The header is read and checked before the first chunk is cut."""
    lines = _physical_lines(stream)
    header_parts: list[bytes] = []
    parity = 0
    line_no = 0
    for line in lines:  # the header is the first record, as the csv module reads it (even blank)
        line_no += 1
        header_parts.append(line)
        parity ^= line.count(b'"') & 1
        if parity == 0:
            break
    if not header_parts:
        raise InputError(f"{location}: the file is empty (no header row)")
    text = b"".join(header_parts).decode("utf-8", "surrogateescape")
    header = check_header(next(csv.reader(io.StringIO(text, newline=""), strict=False)), location)
    return header, _chunks(lines, line_no)


def _physical_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's lines, each with its b"\\n" (the last one may lack it); a leading BOM dropped."""
    carry = b""
    first = True
    while block := stream.read(BLOCK_BYTES):
        if first:
            block = block.removeprefix(BOM)
            first = False
        parts = (carry + block).split(b"\n")
        carry = parts.pop()
        for part in parts:
            yield part + b"\n"
    if carry:
        yield carry


def _chunks(lines: Iterator[bytes], line_no: int) -> Iterator[Chunk]:
    parts: list[bytes] = []
    ends: list[int] = []
    parity = 0
    row = 0
    index = 0
    chunk_first_line = line_no + 1
    chunk_first_row = 1
    row_has_content = False
    for line in lines:
        line_no += 1
        parts.append(line)
        # A record starting here is blank only if its first line is empty (csv yields [] then).
        row_has_content = row_has_content if parity else bool(line.rstrip(b"\r\n"))
        parity ^= line.count(b'"') & 1
        if parity == 0:
            if row_has_content:  # a blank line outside quotes is no row (csv yields [])
                row += 1
                ends.append(line_no)
            if len(ends) >= CHUNK_ROWS:
                yield Chunk(index, chunk_first_row, chunk_first_line, b"".join(parts), tuple(ends))
                index += 1
                parts, ends = [], []
                chunk_first_line, chunk_first_row = line_no + 1, row + 1
    if parts:
        if parity:  # an open quote at the end of the file: the csv module ends that row at EOF
            row += 1
            ends.append(line_no)
        yield Chunk(index, chunk_first_row, chunk_first_line, b"".join(parts), tuple(ends))


def process_chunk(args: tuple[Chunk, Context]) -> ChunkResult:
    """Worker: parse, check row boundaries, build envelopes and aggregates (no I/O)."""
    chunk, ctx = args
    result = ChunkResult(chunk.index, chunk.first_row)
    reader = csv.reader(io.StringIO(chunk.data.decode("utf-8", "surrogateescape"), newline=""), strict=False)
    expected = iter(chunk.row_end_lines)
    shards = ShardMap.from_ranges(ctx.shard_starts, ctx.shard_ids)
    builders: dict[str, AggregateBuilder] = {}
    clock = MillisecondClock()
    row_number = chunk.first_row - 1
    line_base = chunk.first_line - 1
    try:
        for values in reader:
            if not values:
                continue
            row_number += 1
            line_number = line_base + reader.line_num
            if line_number != next(expected, None):
                return ChunkResult(chunk.index, chunk.first_row, mismatch=True)
            if row_number <= ctx.start_after:
                result.rows_skipped += 1
                continue
            item = classify(row_number, line_number, ctx.header, values)
            if isinstance(item, Reject):
                result.rejects.append(asdict(item))
                continue
            result.rows_read += 1
            key, data = envelope_bytes(ctx.source, item, clock.now())
            if too_large(key, data):
                reason = f"record of {len(data)} bytes exceeds the Kinesis limit of 1 MiB"
                result.rejects.append(
                    {"row_number": row_number, "line_number": line_number, "reason": reason}
                )
                continue
            shard = shards.shard_for(key)
            if not ctx.aggregate:
                result.entries.append((shard, Entry(data, key, None, [row_number])))
                continue
            builder = builders.get(shard)
            if builder is None:
                builder = builders[shard] = AggregateBuilder()
            if builder.try_add(key, data, row_number):
                continue
            if len(builder):
                result.entries.append((shard, builder.build()))
                builder = builders[shard] = AggregateBuilder()
                if builder.try_add(key, data, row_number):
                    continue
            result.entries.append((shard, Entry(data, key, None, [row_number])))
    except csv.Error:
        return ChunkResult(chunk.index, chunk.first_row, mismatch=True)  # the sequential reader reports it
    if next(expected, None) is not None:
        return ChunkResult(chunk.index, chunk.first_row, mismatch=True)
    for shard, builder in builders.items():
        if len(builder):
            result.entries.append((shard, builder.build()))
    return result


def _worker_signals() -> None:
    # Ctrl-C reaches the whole process group; the main process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers are forked after the CLI installed its "flush and stop" SIGTERM handler; they must
    # not inherit it, or Pool.terminate()'s SIGTERM is caught and the pool's join waits forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class WorkerPool:
    """Forked workers; create it before any thread starts (forking a threaded process is unsafe)."""

    def __init__(self, workers: int) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals)
        self.workers = workers

    def map_in_order(
        self, chunks: Iterator[Chunk], ctx: Context, stop: threading.Event
    ) -> Iterator[ChunkResult]:
        """Results in chunk order, with at most 2 chunks per worker in flight (bounded memory)."""
        slots = threading.Semaphore(2 * self.workers)
        finished = threading.Event()

        def feed() -> Iterator[tuple[Chunk, Context]]:
            for chunk in chunks:
                slots.acquire()
                if finished.is_set() or stop.is_set():
                    return
                yield chunk, ctx

        try:
            for result in self.pool.imap(process_chunk, feed()):
                slots.release()
                yield result
        finally:
            finished.set()
            slots.release(1000)  # unblock the feeder thread so the pool can shut down

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()
