"""The stream: records round-trip through the embedded log and a Kinesis endpoint on moto,
once each, in order per shard, resumable from any sequence number, across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from c360.settings import REPO_ROOT, Settings
from simulator.emitters.stream import (
    EmbeddedStream,
    KinesisStream,
    Stream,
    StreamCorruptError,
    StreamRecord,
    StreamUnavailableError,
    open_stream,
    read_shard,
    sequence_key,
    shard_id_for,
    shard_index,
)

SHARDS = 3
KEYS = 40
RECORDS = 1_200
SUBPROCESS_TIMEOUT_S = 60


def _records(count: int = RECORDS, prefix: str = "r") -> list[tuple[str, bytes]]:
    return [(f"device-{i % KEYS}", f"{prefix}-{i}".encode()) for i in range(count)]


def _read_all(stream: Stream, page_size: int = 100) -> dict[str, list[StreamRecord]]:
    return {
        shard: list(read_shard(stream, shard, page_size=page_size)) for shard in stream.shard_ids()
    }


@pytest.fixture(params=["embedded", pytest.param("kinesis", marks=pytest.mark.integration)])
def stream(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stream]:
    """An empty stream of SHARDS shards on each backend."""
    opened: Stream
    if request.param == "kinesis":
        request.getfixturevalue("aws_credentials")
        endpoint = request.getfixturevalue("kinesis_endpoint")
        opened = KinesisStream.connect(f"test-{uuid.uuid4().hex[:12]}", SHARDS, endpoint)
    else:
        opened = EmbeddedStream(tmp_path / "stream" / "test", SHARDS)
    yield opened
    opened.close()


# --- Both backends ------------------------------------------------------------------------


def test_every_record_reads_back_once_in_put_order(stream: Stream) -> None:
    sent = _records()
    positions = stream.put_records(sent[:500]) + stream.put_records(sent[500:])

    shards = _read_all(stream)

    assert stream.shard_ids() == [shard_id_for(i) for i in range(SHARDS)]
    read = [r for records in shards.values() for r in records]
    assert sorted(r.data for r in read) == sorted(data for _, data in sent)
    # Each record is where the put said it landed.
    landed = {r.data: (r.shard_id, r.sequence_number) for r in read}
    assert [landed[data] for _, data in sent] == [tuple(p) for p in positions]
    for records in shards.values():
        numbers = [sequence_key(r.sequence_number) for r in records]
        assert numbers == sorted(set(numbers))
    # A key's records keep the order they were put in.
    for key in {k for k, _ in sent}:
        assert [r.data for r in read if r.partition_key == key] == [
            data for k, data in sent if k == key
        ]


def test_keys_go_to_shards_by_md5_like_kinesis(stream: Stream) -> None:
    sent = _records(KEYS)

    positions = stream.put_records(sent)

    assert [p.shard_id for p in positions] == [
        shard_id_for(shard_index(k, SHARDS)) for k, _ in sent
    ]
    assert len({p.shard_id for p in positions}) == SHARDS


def test_reads_page_and_resume_after_any_sequence_number(stream: Stream) -> None:
    stream.put_records(_records(300))
    shard = stream.shard_ids()[0]
    everything = list(read_shard(stream, shard, page_size=1000))

    pages = []
    position = None
    while True:
        records, position = stream.get_records(shard, position, limit=7)
        if not records:
            break
        assert len(records) <= 7
        pages.append(records)
    resumed = stream.get_records(shard, everything[9].sequence_number, limit=5)

    assert [r for page in pages for r in page] == everything
    assert position == everything[-1].sequence_number
    assert resumed.records == everything[10:15]
    assert resumed.next_position == everything[14].sequence_number


def test_a_caught_up_reader_gets_only_what_is_put_later(stream: Stream) -> None:
    stream.put_records(_records(100, prefix="first"))
    checkpoints = {s: [r.sequence_number for r in rs][-1] for s, rs in _read_all(stream).items()}
    assert all(stream.get_records(s, p).records == [] for s, p in checkpoints.items())

    stream.put_records(_records(100, prefix="second"))

    later = [r for s, p in checkpoints.items() for r in read_shard(stream, s, p)]
    assert sorted(r.data for r in later) == sorted(d for _, d in _records(100, prefix="second"))


def test_an_empty_shard_reads_empty_from_the_start(stream: Stream) -> None:
    records, position = stream.get_records(stream.shard_ids()[0])

    assert records == []
    assert position is None


def test_kinesis_limits_hold(stream: Stream) -> None:
    with pytest.raises(ValueError, match="partition key"):
        stream.put_records([("k" * 257, b"x")])
    with pytest.raises(ValueError, match="1 MiB"):
        stream.put_records([("k", b"x" * (1024 * 1024))])
    with pytest.raises(ValueError, match="limit"):
        stream.get_records(stream.shard_ids()[0], limit=0)


# --- Choosing the backend -----------------------------------------------------------------


def test_open_stream_is_embedded_by_default(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()

    stream = open_stream(settings)
    stream.put_records([("k", b"x")])

    assert isinstance(stream, EmbeddedStream)
    assert stream.root == settings.home / "sources" / "stream" / "c360-clickstream"
    assert len(stream.shard_ids()) == 2
    assert (stream.root / "stream.json").exists()


@pytest.mark.integration
@pytest.mark.usefixtures("aws_credentials")
def test_open_stream_uses_kinesis_when_configured(
    make_settings: Callable[..., Settings], kinesis_endpoint: str
) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"
    settings = make_settings(
        sources={"stream": "kinesis", "stream_endpoint": kinesis_endpoint, "stream_name": name}
    )

    stream = open_stream(settings)
    stream.put_records([("k", b"x")])

    assert isinstance(stream, KinesisStream)
    assert stream.name == name
    assert [r.data for s in stream.shard_ids() for r in read_shard(stream, s)] == [b"x"]
    assert not (settings.home / "sources" / "stream").exists()


@pytest.mark.usefixtures("aws_credentials")
def test_an_unreachable_kinesis_endpoint_is_one_clear_line(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        sources={"stream": "kinesis", "stream_endpoint": "http://127.0.0.1:9"}  # discard port
    )

    with pytest.raises(StreamUnavailableError, match="unavailable") as raised:
        open_stream(settings)

    assert "\n" not in str(raised.value)
    assert "C360_SOURCES__STREAM_ENDPOINT" in str(raised.value)


# --- The embedded log on disk --------------------------------------------------------------


def test_a_reopened_stream_keeps_its_records_shards_and_numbering(tmp_path: Path) -> None:
    root = tmp_path / "s"
    EmbeddedStream(root, SHARDS).put_records(_records(100, prefix="first"))

    reopened = EmbeddedStream(root, shards=7)  # an existing stream keeps its shard count
    reopened.put_records(_records(100, prefix="second"))

    shards = _read_all(reopened)
    assert reopened.shard_ids() == [shard_id_for(i) for i in range(SHARDS)]
    for records in shards.values():
        assert [sequence_key(r.sequence_number) for r in records] == list(
            range(1, len(records) + 1)
        )
    assert sum(map(len, shards.values())) == 200


def test_segments_roll_and_reads_cross_them(tmp_path: Path) -> None:
    stream = EmbeddedStream(tmp_path / "s", 1, segment_bytes=1_000)
    sent = _records(500)
    for start in range(0, 500, 60):
        stream.put_records(sent[start : start + 60])

    shard = stream.shard_ids()[0]
    records = list(read_shard(stream, shard, page_size=33))
    resumed = list(read_shard(stream, shard, records[250].sequence_number))

    assert len(list((stream.root / shard).glob("*.log"))) > 10
    assert [r.data for r in records] == [d for _, d in sent]
    assert resumed == records[251:]
    # A sequence number is zero-padded, so text order is numeric order.
    assert [r.sequence_number for r in records] == sorted(r.sequence_number for r in records)


def test_a_torn_append_is_never_read_and_is_overwritten(tmp_path: Path) -> None:
    stream = EmbeddedStream(tmp_path / "s", 1)
    stream.put_records(_records(50, prefix="first"))
    shard = stream.root / stream.shard_ids()[0]
    segment = next(shard.glob("*.log"))
    committed = segment.stat().st_size
    # A writer crashed after appending half a record and its index entry, before committing.
    with segment.open("ab") as log, segment.with_suffix(".idx").open("ab") as idx:
        log.write(b"\x00\x01torn record")
        idx.write((committed + 40).to_bytes(8, "big"))

    before = list(read_shard(stream, stream.shard_ids()[0]))
    stream.put_records(_records(50, prefix="second"))
    after = list(read_shard(stream, stream.shard_ids()[0]))

    assert [r.data for r in before] == [d for _, d in _records(50, prefix="first")]
    assert [r.data for r in after] == [d for _, d in _records(50, prefix="first")] + [
        d for _, d in _records(50, prefix="second")
    ]
    assert [sequence_key(r.sequence_number) for r in after] == list(range(1, 101))


def test_a_segment_roll_a_crash_left_uncommitted_is_discarded(tmp_path: Path) -> None:
    stream = EmbeddedStream(tmp_path / "s", 1, segment_bytes=10_000)
    stream.put_records(_records(50, prefix="first"))
    shard = stream.root / stream.shard_ids()[0]
    # A writer crashed after creating the next segment (from sequence 51), before committing.
    (shard / "00000000000000000051.log").write_bytes(b"uncommitted")
    (shard / "00000000000000000051.idx").write_bytes((11).to_bytes(8, "big"))

    stream.put_records(_records(20, prefix="second"))  # fits in the first segment

    records = list(read_shard(stream, stream.shard_ids()[0], page_size=7))
    assert [r.data for r in records] == [d for _, d in _records(50, prefix="first")] + [
        d for _, d in _records(20, prefix="second")
    ]
    assert [p.name for p in shard.glob("*.log")] == ["00000000000000000001.log"]


def test_damaged_records_are_reported_not_returned(tmp_path: Path) -> None:
    stream = EmbeddedStream(tmp_path / "s", 1)
    stream.put_records(_records(20))
    segment = next((stream.root / stream.shard_ids()[0]).glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF
    segment.write_bytes(bytes(data))

    with pytest.raises(StreamCorruptError, match="fails its checksum"):
        list(read_shard(stream, stream.shard_ids()[0]))


READER = """
import json, sys, time
from pathlib import Path
from simulator.emitters.stream import EmbeddedStream

stream = EmbeddedStream(Path(sys.argv[1]))
want = int(sys.argv[2])
positions = {shard: None for shard in stream.shard_ids()}
seen = []
print("ready", flush=True)
deadline = time.monotonic() + 60
while len(seen) < want and time.monotonic() < deadline:
    for shard in positions:
        records, positions[shard] = stream.get_records(shard, positions[shard], 25)
        seen += [[r.shard_id, r.sequence_number, r.data.decode()] for r in records]
    time.sleep(0.005)
print(json.dumps(seen), flush=True)
"""

WRITER = """
import sys
from pathlib import Path
from simulator.emitters.stream import EmbeddedStream

stream = EmbeddedStream(Path(sys.argv[1]))
name = sys.argv[2]
for start in range(0, 300, 10):
    batch = range(start, start + 10)
    stream.put_records([(f"{name}-{i % 7}", f"{name}-{i}".encode()) for i in batch])
"""


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("C360_")},
    )


def test_a_reader_in_another_process_sees_appends_as_they_commit(tmp_path: Path) -> None:
    stream = EmbeddedStream(tmp_path / "s", SHARDS)
    sent = _records(600)
    reader = _python(READER, str(stream.root), str(len(sent)))
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
        positions = []
        for start in range(0, len(sent), 50):
            positions += stream.put_records(sent[start : start + 50])
            time.sleep(0.01)
        out, _ = reader.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    finally:
        reader.kill()

    seen = json.loads(out)
    assert sorted(d for _, _, d in seen) == sorted(d.decode() for _, d in sent)
    landed = {d: (shard, seq) for shard, seq, d in seen}
    assert [landed[d.decode()] for _, d in sent] == [tuple(p) for p in positions]


def test_writers_in_two_processes_never_lose_or_tear_records(tmp_path: Path) -> None:
    stream = EmbeddedStream(tmp_path / "s", SHARDS)
    writers = [_python(WRITER, str(stream.root), name) for name in ("a", "b")]
    for writer in writers:
        writer.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert writer.returncode == 0

    shards = _read_all(stream)

    read = [r.data.decode() for records in shards.values() for r in records]
    assert sorted(read) == sorted(f"{n}-{i}" for n in ("a", "b") for i in range(300))
    for records in shards.values():
        assert [sequence_key(r.sequence_number) for r in records] == list(
            range(1, len(records) + 1)
        )
    for name in ("a", "b"):
        mine = [d for d in read if d.startswith(name)]
        for key in range(7):
            numbers = [int(d.split("-")[1]) for d in mine if int(d.split("-")[1]) % 7 == key]
            assert numbers == sorted(numbers)
