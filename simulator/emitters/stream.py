"""The clickstream's stream (Kinesis in production), behind one small interface.

Two backends, chosen by `sources.stream` through `open_stream`:

- `EmbeddedStream` (default): a durable log on local disk with Kinesis semantics, under
  `$C360_HOME/sources/stream/<stream_name>/`. No service to run.
- `KinesisStream`: the Kinesis API through boto3, at `sources.stream_endpoint` (LocalStack,
  moto's server) or AWS itself when unset.

Both route a record to a shard by the MD5 hash of its partition key over evenly split hash
key ranges, exactly as Kinesis does for a stream created with N shards, so a key lands in
the same shard on either backend. Within a shard, records keep the order they were put in
and get increasing sequence numbers; readers page through a shard from TRIM_HORIZON
(`after_sequence=None`) or from after a sequence number they checkpointed.

Sequence numbers are opaque strings: compare them only with `sequence_key`, never as text
across backends (the embedded stream's are zero-padded and sort as text; Kinesis's are
decimal numbers of varying length).

The embedded log on disk::

    <stream_name>/
      stream.json                     shard count, written once
      writer.lock                     flock'ed by a writer for the whole of a put
      shardId-000000000000/
        head.json                     commit point: last sequence, segment, committed bytes
        00000000000000000001.log      segment: records from sequence 1 on, framed
        00000000000000000001.idx      8-byte big-endian end offset of each record
        00000000000000052113.log      next segment, after a roll at SEGMENT_BYTES

A record frame is a header (CRC-32 of the rest, sequence number, arrival time in ms,
partition key length, data length) followed by the key and the data. A put appends frames
and index entries with `pwrite` and fsyncs them, then publishes the new `head.json` by
atomic rename (and fsyncs the folder). Readers read `head.json` first and never look past
it, so they see whole, committed records only, even while a writer is mid-append or after
it crashed. The next writer truncates a crashed writer's uncommitted tail, and deletes a
segment it rolled to but never committed, before it appends; a roll is committed by the same
rename. Sequence numbers per shard are contiguous (1, 2, 3, ...), so the index locates any
record without a scan. A put that spans shards commits shard by shard, like Kinesis's
PutRecords, which can also succeed for some records and not others.

`arrived_at` is wall-clock time (Kinesis's ApproximateArrivalTimestamp), for measuring
freshness; everything else a simulated day puts on the stream is deterministic.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from c360.settings import Settings

# Kinesis's limits, enforced by both backends so the embedded one accepts nothing AWS would not.
MAX_PARTITION_KEY_CHARS = 256
MAX_RECORD_BYTES = 1024 * 1024  # data plus partition key
MAX_GET_LIMIT = 10_000
PUT_BATCH_RECORDS = 500
PUT_BATCH_BYTES = 5 * 1024 * 1024
HASH_SPACE = 2**128

SEGMENT_BYTES = 64 * 1024 * 1024
SEQUENCE_DIGITS = 20
FORMAT_VERSION = 1
_HEADER = struct.Struct(">IQqHI")  # crc32, sequence, arrival ms, key length, data length
_OFFSET = struct.Struct(">Q")


class StreamUnavailableError(RuntimeError):
    """The stream cannot be reached or refuses records; the message says what to do."""


class StreamCorruptError(RuntimeError):
    """Committed records on disk fail their checksum: the disk or a hand edit broke them."""


class StreamRecord(NamedTuple):
    """One record read from a shard."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrived_at: datetime  # when the stream accepted it (Kinesis's ApproximateArrivalTimestamp)


class ShardPage(NamedTuple):
    """A page of a shard's records, and where to read on from (pass as `after_sequence`)."""

    records: list[StreamRecord]
    next_position: str | None


class RecordPosition(NamedTuple):
    """Where a put record landed."""

    shard_id: str
    sequence_number: str


class Stream(Protocol):
    """A sharded, ordered, durable stream of records (the Kinesis data model)."""

    name: str

    def shard_ids(self) -> list[str]:
        """The stream's shards, sorted."""
        ...

    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[RecordPosition]:
        """Append `(partition_key, data)` records; return where each landed, in input order.

        Raises:
            ValueError: a partition key or record is over Kinesis's limits.
            StreamUnavailableError: the stream refused records after retries.
        """
        ...

    def get_records(
        self, shard_id: str, after_sequence: str | None = None, limit: int = 1000
    ) -> ShardPage:
        """Up to `limit` records of `shard_id` after `after_sequence` (None: from the start).

        An empty page means the reader has caught up (on Kinesis, after reading on past a
        few empty stretches); its `next_position` is the `after_sequence` it was given.
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def open_stream(settings: Settings) -> Stream:
    """The clickstream's stream for `settings`: embedded unless `sources.stream` is `kinesis`.

    Raises:
        StreamUnavailableError: the Kinesis endpoint cannot be reached or has no credentials.
    """
    sources = settings.resolved_sources()
    if sources.stream == "kinesis":
        return KinesisStream.connect(
            sources.stream_name, sources.stream_shards, sources.stream_endpoint
        )
    return EmbeddedStream(
        settings.sources_dir / "stream" / sources.stream_name, sources.stream_shards
    )


def read_shard(
    stream: Stream, shard_id: str, after_sequence: str | None = None, page_size: int = 1000
) -> Iterator[StreamRecord]:
    """Every record of `shard_id` after `after_sequence`, page by page, until caught up."""
    position = after_sequence
    while True:
        records, position = stream.get_records(shard_id, position, page_size)
        if not records:
            return
        yield from records


def shard_index(partition_key: str, shards: int) -> int:
    """The shard a key goes to in a stream of `shards` evenly split shards, as in Kinesis."""
    hashed = int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")
    return min(hashed // (HASH_SPACE // shards), shards - 1)


def shard_id_for(index: int) -> str:
    return f"shardId-{index:012d}"


def sequence_key(sequence_number: str) -> int:
    """A sort key for sequence numbers of one shard, on either backend."""
    return int(sequence_number)


def _check_record(partition_key: str, data: bytes) -> None:
    if not 1 <= len(partition_key) <= MAX_PARTITION_KEY_CHARS:
        raise ValueError(
            f"partition key must have 1 to {MAX_PARTITION_KEY_CHARS} characters, "
            f"got {len(partition_key)}"
        )
    if len(data) + len(partition_key.encode()) > MAX_RECORD_BYTES:
        raise ValueError(f"record of {len(data)} bytes is over Kinesis's 1 MiB limit")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_GET_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_GET_LIMIT}, got {limit}")


# --- Embedded -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Head:
    """A shard's commit point: records up to `last` are readable; `segment` is the first
    sequence number of the segment being appended to, which holds `end` committed bytes."""

    last: int = 0
    segment: int = 1
    end: int = 0


class EmbeddedStream:
    """A Kinesis-like stream as a durable log in `root` (see the module docstring).

    Opening a stream that exists uses its own shard count, as Kinesis does; `shards` only
    applies when the stream is created. Any number of processes may read and write.

    Args:
        root: the stream's folder; its name is the stream's name.
        shards: shard count for a new stream.
        segment_bytes: a shard's segment file rolls over past this size.
    """

    def __init__(self, root: Path, shards: int = 2, *, segment_bytes: int = SEGMENT_BYTES):
        if shards < 1:
            raise ValueError(f"a stream needs at least one shard, got {shards}")
        self.root = root
        self.name = root.name
        self._segment_bytes = segment_bytes
        meta = root / "stream.json"
        if not meta.exists():
            root.mkdir(parents=True, exist_ok=True)
            with self._writer_lock():
                if not meta.exists():
                    for index in range(shards):
                        (root / shard_id_for(index)).mkdir(exist_ok=True)
                    _write_atomically(
                        meta, {"format": FORMAT_VERSION, "name": self.name, "shards": shards}
                    )
        self._shard_ids = [shard_id_for(i) for i in range(json.loads(meta.read_text())["shards"])]

    def shard_ids(self) -> list[str]:
        return list(self._shard_ids)

    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[RecordPosition]:
        for key, data in records:
            _check_record(key, data)
        by_shard: dict[int, list[int]] = {}
        shard_of: dict[str, int] = {}  # keys repeat (a device's events): hash each once
        for i, (key, _) in enumerate(records):
            if key not in shard_of:
                shard_of[key] = shard_index(key, len(self._shard_ids))
            by_shard.setdefault(shard_of[key], []).append(i)
        positions: list[RecordPosition | None] = [None] * len(records)
        arrived_ms = time.time_ns() // 1_000_000
        with self._writer_lock():
            for index, members in sorted(by_shard.items()):
                shard_id = self._shard_ids[index]
                first = self._append(shard_id, [records[i] for i in members], arrived_ms)
                for offset, i in enumerate(members):
                    positions[i] = RecordPosition(shard_id, _format_sequence(first + offset))
        return [p for p in positions if p is not None]

    def get_records(
        self, shard_id: str, after_sequence: str | None = None, limit: int = 1000
    ) -> ShardPage:
        _check_limit(limit)
        folder = self._shard_dir(shard_id)
        head = _read_head(folder)
        start = 1 if after_sequence is None else _parse_sequence(after_sequence) + 1
        if start > head.last:
            return ShardPage([], after_sequence)
        segments = [s for s in _segments(folder) if s <= head.last]
        segment = segments[bisect.bisect_right(segments, start) - 1]
        later = [s for s in segments if s > segment]
        # A page stays inside one segment; the reader's next call moves on to the next.
        stop = min(start + limit - 1, head.last, later[0] - 1 if later else head.last)
        stem = folder / _format_sequence(segment)
        with open(stem.with_suffix(".idx"), "rb") as idx:
            before = start - segment  # records of the segment ahead of `start`
            if before:
                raw = os.pread(idx.fileno(), _OFFSET.size * (stop - start + 2), (before - 1) * 8)
                ends = [e for (e,) in _OFFSET.iter_unpack(raw)]
                begin, ends = ends[0], ends[1:]
            else:
                raw = os.pread(idx.fileno(), _OFFSET.size * (stop - start + 1), 0)
                begin, ends = 0, [e for (e,) in _OFFSET.iter_unpack(raw)]
        with open(stem.with_suffix(".log"), "rb") as log:
            blob = os.pread(log.fileno(), ends[-1] - begin, begin)
        records = _parse_frames(shard_id, blob, start, stop, stem)
        return ShardPage(records, records[-1].sequence_number)

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own files."""

    def _shard_dir(self, shard_id: str) -> Path:
        if shard_id not in self._shard_ids:
            raise ValueError(f"stream {self.name} has no shard {shard_id}")
        return self.root / shard_id

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        # flock serialises writers across processes (and threads: each call opens its own fd).
        fd = os.open(self.root / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _append(self, shard_id: str, records: list[tuple[str, bytes]], arrived_ms: int) -> int:
        """Append `records` to a shard and commit them; return the first sequence number."""
        folder = self._shard_dir(shard_id)
        head = _read_head(folder)
        segment, end, last = head.segment, head.end, head.last
        for stale in _segments(folder):
            # A segment a crashed writer rolled to but never committed: its name may come
            # to lie inside the current segment's range, where readers would look for it.
            if stale > last and stale != segment:
                for suffix in (".log", ".idx"):
                    (folder / _format_sequence(stale)).with_suffix(suffix).unlink(missing_ok=True)
        # Where this put starts writing in the segment: its log offset and index entry.
        log_from, idx_from = end, last - segment + 1
        frames: list[bytes] = []
        ends: list[int] = []

        def flush() -> None:
            stem = folder / _format_sequence(segment)
            # Writing at the committed offsets (after truncating there) drops whatever a
            # crashed writer left past the commit point.
            _append_at(stem.with_suffix(".log"), log_from, b"".join(frames))
            _append_at(
                stem.with_suffix(".idx"),
                _OFFSET.size * idx_from,
                b"".join(_OFFSET.pack(e) for e in ends),
            )

        for key, data in records:
            encoded = key.encode()
            if end and end + _HEADER.size + len(encoded) + len(data) > self._segment_bytes:
                flush()
                segment, end, log_from, idx_from, frames, ends = last + 1, 0, 0, 0, [], []
            last += 1
            body = _HEADER.pack(0, last, arrived_ms, len(encoded), len(data))[4:] + encoded + data
            frame = struct.pack(">I", zlib.crc32(body)) + body
            frames.append(frame)
            end += len(frame)
            ends.append(end)
        flush()
        _write_atomically(
            folder / "head.json", {"last": last, "segment": segment, "end": end}, fsync_dir=True
        )
        return head.last + 1


def _format_sequence(number: int) -> str:
    return f"{number:0{SEQUENCE_DIGITS}d}"


def _parse_sequence(sequence: str) -> int:
    if not sequence.isdigit():
        raise ValueError(f"not a sequence number of an embedded stream: {sequence!r}")
    return int(sequence)


def _read_head(folder: Path) -> _Head:
    try:
        return _Head(**json.loads((folder / "head.json").read_text()))
    except FileNotFoundError:
        return _Head()


def _segments(folder: Path) -> list[int]:
    return sorted(int(p.stem) for p in folder.glob("*.log"))


def _append_at(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, offset)
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, content: dict[str, Any], *, fsync_dir: bool = False) -> None:
    partial = path.with_suffix(".partial")
    with open(partial, "w") as out:
        json.dump(content, out)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    if fsync_dir:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _parse_frames(
    shard_id: str, blob: bytes, first: int, last: int, stem: Path
) -> list[StreamRecord]:
    """Records `first` to `last` from `blob`, each checked against its CRC."""
    records = []
    at = 0
    for expected in range(first, last + 1):
        try:
            crc, sequence, arrived_ms, key_len, data_len = _HEADER.unpack_from(blob, at)
        except struct.error:
            crc, sequence, arrived_ms, key_len, data_len = -1, -1, 0, 0, 0
        stop = at + _HEADER.size + key_len + data_len
        if sequence != expected or stop > len(blob) or zlib.crc32(blob[at + 4 : stop]) != crc:
            raise StreamCorruptError(
                f"record {expected} in {stem}.log fails its checksum: the stream's files are "
                "damaged; restore them or `c360 reset` the sources"
            )
        key_at = at + _HEADER.size
        records.append(
            StreamRecord(
                shard_id,
                _format_sequence(sequence),
                blob[key_at : key_at + key_len].decode(),
                blob[key_at + key_len : stop],
                datetime.fromtimestamp(arrived_ms / 1000, UTC),
            )
        )
        at = stop
    return records


# --- Kinesis --------------------------------------------------------------------------------

PUT_ATTEMPTS = 8
EMPTY_PAGE_HOPS = 5  # Kinesis may hand back empty pages mid-shard; read on a few before saying so
DEFAULT_REGION = "us-east-1"
EMULATOR_KEY = "c360"  # LocalStack and moto accept any credentials


class KinesisStream:
    """A stream on the Kinesis API (AWS, LocalStack, moto's server).

    Args:
        client: a boto3 Kinesis client.
        name: the stream's name; created with `shards` shards if missing.
        shards: shard count for a new stream.
    """

    def __init__(self, client: Any, name: str, shards: int = 2):
        # `Any`: the project installs boto3 stubs for S3 only.
        self.name = name
        self._client = client
        # The iterator that continues each shard's last page: saves a GetShardIterator call
        # per page and walks past empty stretches of a shard.
        self._iterators: dict[str, tuple[str | None, str]] = {}
        self._ensure_stream(shards)

    @classmethod
    def connect(cls, name: str, shards: int, endpoint: str | None) -> KinesisStream:
        """A client for `endpoint` (AWS when None) from boto3's credential chain; emulators
        get placeholder credentials when the chain has none.

        Raises:
            StreamUnavailableError: no credentials for AWS, or the endpoint does not answer.
        """
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        key = None
        if session.get_credentials() is None:
            if endpoint is None:
                raise StreamUnavailableError(
                    f"no AWS credentials for Kinesis stream {name}: set AWS_PROFILE or "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or point "
                    "C360_SOURCES__STREAM_ENDPOINT at an emulator"
                )
            key = EMULATOR_KEY
        client = session.client(
            "kinesis",
            endpoint_url=endpoint,
            region_name=session.region_name or DEFAULT_REGION,
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 5}
            ),
            aws_access_key_id=key,
            aws_secret_access_key=key,
        )
        return cls(client, name, shards)

    def shard_ids(self) -> list[str]:
        shards: list[str] = []
        request: dict[str, Any] = {"StreamName": self.name}
        while True:
            response = self._call("list_shards", **request)
            shards += [s["ShardId"] for s in response["Shards"]]
            if not response.get("NextToken"):
                return sorted(shards)
            request = {"NextToken": response["NextToken"]}

    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[RecordPosition]:
        for key, data in records:
            _check_record(key, data)
        positions: list[RecordPosition | None] = [None] * len(records)
        for batch in _put_batches(records):
            pending = batch
            for attempt in range(PUT_ATTEMPTS):
                entries = [{"PartitionKey": records[i][0], "Data": records[i][1]} for i in pending]
                response = self._call("put_records", StreamName=self.name, Records=entries)
                failed, error = [], ""
                for i, result in zip(pending, response["Records"], strict=True):
                    if result.get("ErrorCode"):
                        failed.append(i)
                        error = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
                    else:
                        positions[i] = RecordPosition(result["ShardId"], result["SequenceNumber"])
                if not failed:
                    break
                # Throttled records are retried (as the Kinesis producer library does);
                # a retried record may land after records put later under its key.
                pending = failed
                time.sleep(min(0.1 * 2**attempt, 5.0))
            else:
                raise StreamUnavailableError(
                    f"Kinesis stream {self.name} refused {len(pending)} records after "
                    f"{PUT_ATTEMPTS} attempts ({error}); add shards or slow the producer"
                )
        return [p for p in positions if p is not None]

    def get_records(
        self, shard_id: str, after_sequence: str | None = None, limit: int = 1000
    ) -> ShardPage:
        _check_limit(limit)
        cached = self._iterators.pop(shard_id, None)
        iterator = cached[1] if cached and cached[0] == after_sequence else None
        records: list[StreamRecord] = []
        next_iterator: str | None = None
        for _ in range(EMPTY_PAGE_HOPS):
            if iterator is None:
                iterator = self._shard_iterator(shard_id, after_sequence)
            try:
                response = self._client.get_records(ShardIterator=iterator, Limit=limit)
            except self._client.exceptions.ExpiredIteratorException:
                iterator = None
                continue
            except (BotoCoreError, ClientError) as exc:
                raise _unavailable(self.name, exc) from exc
            records = [
                StreamRecord(
                    shard_id,
                    r["SequenceNumber"],
                    r["PartitionKey"],
                    r["Data"],
                    r["ApproximateArrivalTimestamp"].astimezone(UTC),
                )
                for r in response["Records"]
            ]
            next_iterator = response.get("NextShardIterator")
            if records or not next_iterator or not response.get("MillisBehindLatest"):
                break
            iterator = next_iterator
        position = records[-1].sequence_number if records else after_sequence
        if next_iterator:
            self._iterators[shard_id] = (position, next_iterator)
        return ShardPage(records, position)

    def close(self) -> None:
        self._iterators.clear()
        self._client.close()

    def _shard_iterator(self, shard_id: str, after_sequence: str | None) -> str:
        request: dict[str, Any] = {"StreamName": self.name, "ShardId": shard_id}
        if after_sequence is None:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": after_sequence,
            }
        return str(self._call("get_shard_iterator", **request)["ShardIterator"])

    def _ensure_stream(self, shards: int) -> None:
        try:
            self._client.describe_stream_summary(StreamName=self.name)
        except self._client.exceptions.ResourceNotFoundException:
            try:
                self._client.create_stream(StreamName=self.name, ShardCount=shards)
            except self._client.exceptions.ResourceInUseException:
                pass  # another process created it in the meantime
            except (BotoCoreError, ClientError) as exc:
                raise _unavailable(self.name, exc) from exc
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(self.name, exc) from exc
        try:
            # A new stream is CREATING for up to a minute on AWS; emulators make it ACTIVE
            # at once.
            self._client.get_waiter("stream_exists").wait(
                StreamName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )
        except BotoCoreError as exc:
            raise _unavailable(self.name, exc) from exc

    def _call(self, operation: str, **request: Any) -> Any:
        try:
            return getattr(self._client, operation)(**request)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(self.name, exc) from exc


def _put_batches(records: Sequence[tuple[str, bytes]]) -> Iterator[list[int]]:
    """Indexes of `records` in PutRecords-sized batches (500 records, 5 MiB)."""
    batch: list[int] = []
    size = 0
    for i, (key, data) in enumerate(records):
        record_size = len(key.encode()) + len(data)
        if batch and (len(batch) == PUT_BATCH_RECORDS or size + record_size > PUT_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(i)
        size += record_size
    if batch:
        yield batch


def _unavailable(name: str, exc: BotoCoreError | ClientError) -> StreamUnavailableError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code')}: {error.get('Message')}"
    else:
        reason = str(exc)
    return StreamUnavailableError(
        f"Kinesis stream {name} is unavailable ({' '.join(reason.split())}); start the "
        "endpoint or fix C360_SOURCES__STREAM_ENDPOINT and the AWS credentials"
    )
