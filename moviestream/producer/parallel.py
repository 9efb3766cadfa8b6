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
import gc
import io
import multiprocessing
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import BinaryIO

from moviestream.core.csv_source import (
    DEFAULT_LIMITS,
    InputError,
    ReadLimits,
    Reject,
    check_header,
    classify,
    has_undecodable_text,
)
from moviestream.core.envelope import EnvelopeEncoder, MillisecondClock
from moviestream.producer.aggregation import AggregateBuilder, Entry, ShardMap, too_large

# Bytes of the file read at a time: about one chunk, the unit a worker parses (replay's --chunk-kib).
BLOCK_BYTES = 4 * 1024 * 1024
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Chunk:
    index: int
    first_row: int  # row number of the chunk's first data row
    first_line: int  # physical line number of the chunk's first line
    data: bytes
    row_end_lines: Sequence[int]  # the line each data row ends on (csv's line_num)
    # A record here may be over the row cap: the sequential reader, which reports it, takes over.
    overflow: bool = False


@dataclass(frozen=True)
class Context:
    location: str
    source: str
    header: tuple[str, ...]
    shard_starts: tuple[int, ...]
    shard_ids: tuple[str, ...]
    aggregate: bool
    start_after: int  # rows up to this one were handled by an earlier run (--resume)
    limits: ReadLimits = DEFAULT_LIMITS  # the caps both readers share (moviestream/core/csv_source.py)


@dataclass
class ChunkResult:
    index: int
    first_row: int
    mismatch: bool = False
    rows_read: int = 0
    rows_skipped: int = 0
    rejects: list[dict] = field(default_factory=list)
    entries: list[tuple[str, Entry]] = field(default_factory=list)


def split(
    stream: BinaryIO, location: str, limits: ReadLimits = DEFAULT_LIMITS, block_bytes: int = 0
) -> tuple[tuple[str, ...], Iterator[Chunk]]:
    """(header, chunks of about ``block_bytes`` each, BLOCK_BYTES when 0). The header is read and
    checked before the first chunk is cut."""
    block_bytes = block_bytes or BLOCK_BYTES
    data = stream.read(block_bytes).removeprefix(BOM)
    pos = parity = line_no = 0
    while True:  # the header is the first record, as the csv module reads it (even a blank one)
        end = data.find(b"\n", pos)
        if end < 0:
            if len(data) > limits.row_bytes:
                break  # refused below, as the sequential reader refuses it
            more = stream.read(block_bytes)
            if more:
                data += more
                continue
            if pos < len(data):  # a last line without a newline
                line_no += 1
                pos = len(data)
            break
        line_no += 1
        parity ^= data.count(b'"', pos, end) & 1
        pos = end + 1
        if not parity:
            break
    if line_no == 0 and not data:
        raise InputError(f"{location}: the file is empty (no header row)")
    if pos > limits.row_bytes or (parity and len(data) > limits.row_bytes) or line_no == 0:
        raise InputError(f"{location}: the header is over the row cap of {limits.row_bytes} bytes")
    text = data[:pos].decode("utf-8", "surrogateescape")
    header = check_header(next(csv.reader(io.StringIO(text, newline=""), strict=False)), location)
    return header, _chunks(stream, data[pos:], line_no, limits, block_bytes)


_ODD = (1).__and__


def _chunks(
    stream: BinaryIO, pending: bytes, line_no: int, limits: ReadLimits, block_bytes: int
) -> Iterator[Chunk]:
    """Chunks of whole records, about one block each. ``pending`` starts at a record boundary.

    A record that may be over the row cap ends the chunks: an ``overflow`` chunk hands the rest
    of the file to the sequential reader, which reports it, so the open record waiting here
    never grows past the cap (an unclosed quote, a file without line ends)."""
    row = index = 0
    eof = False
    cap = limits.row_bytes
    while not eof:
        block = stream.read(block_bytes)
        eof = not block
        data = pending + block
        cut = len(data) if eof else data.rfind(b"\n") + 1
        if cut == 0:
            pending = data  # no line end yet: read on
            if len(pending) > cap:
                yield Chunk(index, row + 1, line_no + 1, b"", (), overflow=True)
                return
            continue
        body, pending = data[:cut], data[cut:]
        lines = body.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # body ends with a line end
        if not lines:
            continue
        # The common case, checked with C-level scans only: every line has an even number of
        # quotes (no field spans lines) and none is blank, so every line ends one row.
        if (
            not any(map(_ODD, map(bytes.count, lines, repeat(b'"'))))
            and b"" not in lines
            and b"\r" not in lines
        ):
            n = len(lines)
            too_long = max(map(len, lines)) + 1 > cap
            yield Chunk(index, row + 1, line_no + 1, body, range(line_no + 1, line_no + n + 1), too_long)
            if too_long:
                return
            index, row, line_no = index + 1, row + n, line_no + n
            continue
        # Otherwise line by line: a record ends at a line end outside quotes; a record still open at
        # the end of the body waits for the next block (at the end of the file, csv ends it there).
        ends: list[int] = []
        parity = pos = 0
        boundary, boundary_line, current = 0, line_no, line_no
        has_content = False
        too_long = False
        for line in lines:
            current += 1
            pos += len(line) + 1
            # A record starting here is blank only if its first line is empty (csv yields [] then).
            has_content = has_content if parity else bool(line.rstrip(b"\r"))
            parity ^= line.count(b'"') & 1
            if not parity:
                if has_content:
                    ends.append(current)
                too_long = too_long or pos - boundary > cap
                boundary, boundary_line = min(pos, len(body)), current
        if eof and parity:
            ends.append(current)
            too_long = too_long or len(body) - boundary > cap
            boundary, boundary_line = len(body), current
        if boundary == 0:
            pending = body + pending  # one record longer than the block: read on
            if len(pending) > cap:
                yield Chunk(index, row + 1, line_no + 1, b"", (), overflow=True)
                return
            continue
        yield Chunk(index, row + 1, line_no + 1, body[:boundary], tuple(ends), too_long)
        if too_long:
            return
        index, row, line_no = index + 1, row + len(ends), boundary_line
        pending = body[boundary:] + pending


def process_chunk(args: tuple[Chunk, Context]) -> ChunkResult:
    """Worker: parse, check row boundaries, build envelopes and aggregates (no I/O)."""
    chunk, ctx = args
    # A chunk's objects are acyclic and short-lived: the cycle collector would only walk them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _process(chunk, ctx)
    finally:
        if gc_was_enabled:
            gc.enable()


def _process(chunk: Chunk, ctx: Context) -> ChunkResult:
    if chunk.overflow:
        return ChunkResult(chunk.index, chunk.first_row, mismatch=True)
    result = ChunkResult(chunk.index, chunk.first_row)
    # Only a chunk longer than the field cap can hold a field longer than it (the usual chunk is
    # a few MiB): then every row's fields are measured, as the sequential reader measures them.
    field_bytes = ctx.limits.field_bytes if len(chunk.data) > ctx.limits.field_bytes else None
    text = chunk.data.decode("utf-8", "surrogateescape")
    check_bytes = has_undecodable_text(text)  # almost always False: no per-row scan then
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    expected = iter(chunk.row_end_lines)
    shard_for = ShardMap.from_ranges(ctx.shard_starts, ctx.shard_ids).shard_for
    encode = EnvelopeEncoder(ctx.source, ctx.header).encode
    width = len(ctx.header)
    builders: dict[str, AggregateBuilder] = {}
    entries = result.entries
    now = MillisecondClock().now
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
            if len(values) != width or check_bytes or field_bytes is not None:
                item = classify(
                    row_number, line_number, ctx.header, values, field_bytes=field_bytes, limits=ctx.limits
                )
                if isinstance(item, Reject):
                    result.rejects.append(asdict(item))
                    continue
            result.rows_read += 1
            key, data = encode(row_number, values, now())
            if reason := too_large(key, data):
                result.rejects.append(
                    {"row_number": row_number, "line_number": line_number, "reason": reason}
                )
                continue
            shard = shard_for(key)
            if not ctx.aggregate:
                entries.append((shard, Entry(data, key, None, [row_number])))
                continue
            builder = builders.get(shard)
            if builder is None:
                builder = builders[shard] = AggregateBuilder()
            if builder.try_add(key, data, row_number):
                continue
            if len(builder):
                entries.append((shard, builder.build()))
                builder = builders[shard] = AggregateBuilder()
                if builder.try_add(key, data, row_number):
                    continue
            entries.append((shard, Entry(data, key, None, [row_number])))
    except csv.Error:
        return ChunkResult(chunk.index, chunk.first_row, mismatch=True)  # the sequential reader reports it
    if next(expected, None) is not None:
        return ChunkResult(chunk.index, chunk.first_row, mismatch=True)
    for shard, builder in builders.items():
        if len(builder):
            entries.append((shard, builder.build()))
    return result


def _worker_signals() -> None:
    # Ctrl-C reaches the whole process group; the main process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers are forked after the CLI installed its "flush and stop" SIGTERM handler; they must
    # not inherit it, or Pool.terminate()'s SIGTERM is caught and the pool's join waits forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # SIGTERM was blocked across the fork (WorkerPool): one that came before this point is
    # pending, and now ends the worker as it should.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


class WorkerPool:
    """Forked workers; create it before any thread starts (forking a threaded process is unsafe)."""

    def __init__(self, workers: int) -> None:
        # A pool closed right after it opened (a short replay) sends SIGTERM to workers that may
        # not have reset the inherited handler yet: that SIGTERM was caught and lost, and the
        # pool's join waited forever (seen in a demo, its workers slowed by coverage). Blocked
        # here, it waits in each new worker until _worker_signals has put the default back.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self.pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
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
