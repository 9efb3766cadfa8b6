from aws_kinesis_agg.aggregator import RecordAggregator

from moviestream.deaggregate import deaggregate, is_aggregated


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

    from moviestream.deaggregate import MAGIC

    body = b"\xff\xff\xff\xff"
    got = list(deaggregate(MAGIC + body + hashlib.md5(body).digest(), "k"))
    assert len(got) == 1 and "not a valid protobuf" in got[0].error
