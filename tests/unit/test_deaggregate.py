from aws_kinesis_agg.aggregator import RecordAggregator

from moviestream.core.deaggregate import deaggregate, is_aggregated


def build_aggregate(records):
    agg = RecordAggregator()
    for pk, data in records:
        assert agg.add_user_record(pk, data) is None
    return agg.clear_and_get().get_contents()[2]


def test_plain_record_passes_through():
    got = list(deaggregate(b'{"a": 1}', "pk"))
    assert [(r.payload, r.partition_key, r.error) for r in got] == [(b'{"a": 1}', "pk", None)]


def test_aggregate_expands_in_order_with_partition_keys():
    records = [("k1", b"one"), ("k2", b"two"), ("k1", b"three")]
    blob = build_aggregate(records)
    assert is_aggregated(blob)
    got = list(deaggregate(blob, "outer"))
    assert [(r.partition_key, r.payload, r.sub_sequence_number) for r in got] == [
        ("k1", b"one", 0),
        ("k2", b"two", 1),
        ("k1", b"three", 2),
    ]


def test_broken_checksum_is_one_record_with_a_reason():
    blob = bytearray(build_aggregate([("k", b"data")]))
    blob[-1] ^= 0xFF
    got = list(deaggregate(bytes(blob), "k"))
    assert len(got) == 1 and got[0].error == "KPL aggregate checksum (MD5) mismatch"


def test_valid_checksum_over_garbage_protobuf_is_reported():
    import hashlib

    from moviestream.core.deaggregate import MAGIC

    body = b"\xff\xff\xff\xff"
    got = list(deaggregate(MAGIC + body + hashlib.md5(body).digest(), "k"))
    assert len(got) == 1 and "not a valid protobuf" in got[0].error


def _framed(message) -> bytes:
    import hashlib

    from moviestream.core.deaggregate import MAGIC

    body = message.SerializeToString()
    return MAGIC + body + hashlib.md5(body).digest()


def _aggregate(keys: list[bytes], records: list[tuple[int, bytes]]) -> bytes:
    """An aggregate written field by field, so keys can hold any bytes (protobuf's Python API
    refuses invalid UTF-8 in a string field; the wire format carries it)."""
    from tests.hostile_files import aggregate_of

    return aggregate_of(keys, records)


def test_invalid_utf8_partition_key_is_a_reason_not_bytes():
    blob = _aggregate([b"ok", b"\xff\xfebad"], [(0, b"one"), (1, b"two")])
    got = list(deaggregate(blob, "outer"))
    assert [(r.sub_sequence_number, r.partition_key, r.payload, r.error) for r in got] == [
        (0, "ok", b"one", None),
        (1, "\ufffd\ufffdbad", b"two", "partition key is not valid UTF-8"),
    ]
    assert all(isinstance(r.partition_key, str) for r in got)


def test_partition_key_index_out_of_range_is_a_reason():
    blob = _aggregate([b"k"], [(0, b"one"), (7, b"two")])
    got = list(deaggregate(blob, "outer"))
    assert [(r.partition_key, r.payload, r.error) for r in got] == [
        ("k", b"one", None),
        ("outer", b"two", "partition_key_index 7 is out of range: the aggregate has 1 keys"),
    ]


def test_aggregate_with_no_user_records_is_one_bad_record():
    from aws_kinesis_agg import messages_pb2

    message = messages_pb2.AggregatedRecord()
    message.partition_key_table.append("k")
    blob = _framed(message)
    got = list(deaggregate(blob, "outer"))
    assert [(r.sub_sequence_number, r.partition_key, r.payload, r.error) for r in got] == [
        (0, "outer", blob, "KPL aggregate holds no user records")
    ]


def test_empty_and_overlong_keys_inside_an_aggregate_are_reasons():
    blob = _aggregate([b"", b"k" * 257], [(0, b"one"), (1, b"two")])
    got = list(deaggregate(blob, "outer"))
    assert [(r.partition_key, r.error) for r in got] == [
        ("", "partition key is empty"),
        ("k" * 256, "partition key is longer than 256 characters"),
    ]


def test_a_record_missing_its_data_field_comes_out_empty():
    # records[0] without its data field: protobuf's parser does not enforce proto2's "required",
    # so the user record comes out with an empty payload, which parse_envelopes reports.
    import hashlib

    from moviestream.core.deaggregate import MAGIC

    body = b"\x0a\x01k" + b"\x1a\x02\x08\x00"
    got = list(deaggregate(MAGIC + body + hashlib.md5(body).digest(), "outer"))
    assert [(r.partition_key, r.payload, r.error) for r in got] == [("k", b"", None)]


# -- every path in whole records ---------------------------------------------------------------


def test_every_path_yields_exactly_these_records():
    import hashlib

    from moviestream.core.deaggregate import MAGIC, UserRecord

    broken = bytearray(build_aggregate([("k", b"data")]))
    broken[-1] ^= 0xFF
    garbage = MAGIC + b"\xff\xff\xff\xff" + hashlib.md5(b"\xff\xff\xff\xff").digest()
    cases = {
        b"plain": [UserRecord(0, "", b"plain", "partition key is empty")],
        bytes(broken): [UserRecord(0, "", bytes(broken), "KPL aggregate checksum (MD5) mismatch")],
    }
    for data, expected in cases.items():
        assert list(deaggregate(data, "")) == expected
    (bad,) = deaggregate(garbage, b"\xffk")
    assert (bad.sub_sequence_number, bad.partition_key, bad.payload) == (0, "\ufffdk", garbage)
    assert bad.error.startswith("KPL aggregate is not a valid protobuf message: ")
    # an index one past the table is out of range; the records after it still come out
    blob = _aggregate([b"a", b"b"], [(2, b"x"), (1, b"y")])
    assert list(deaggregate(blob, "outer")) == [
        UserRecord(0, "outer", b"x", "partition_key_index 2 is out of range: the aggregate has 2 keys"),
        UserRecord(1, "b", b"y", None),
    ]


def test_aggregation_needs_the_magic_and_more_than_the_frame():
    from moviestream.core.deaggregate import DIGEST_SIZE, MAGIC

    assert not is_aggregated(MAGIC + b"\x00" * DIGEST_SIZE)  # the frame alone holds nothing
    assert is_aggregated(MAGIC + b"\x00" * (DIGEST_SIZE + 1))
    assert not is_aggregated(b"\x00" * (len(MAGIC) + DIGEST_SIZE + 5))
    assert not is_aggregated(MAGIC[:-1])


def test_partition_keys_as_text_at_their_limits():
    from moviestream.core.deaggregate import partition_key_text

    assert partition_key_text(None) == (None, None)
    assert partition_key_text("k" * 256) == ("k" * 256, None)
    assert partition_key_text(b"k" * 256) == ("k" * 256, None)
    assert partition_key_text("é" * 257) == ("é" * 256, "partition key is longer than 256 characters")
    assert partition_key_text(b"") == ("", "partition key is empty")
    assert partition_key_text(b"\xff" * 300) == ("\ufffd" * 256, "partition key is not valid UTF-8")
