"""Reading a whole stream back, de-aggregated by aws_kinesis_agg's own de-aggregator."""

from __future__ import annotations

from aws_kinesis_agg.deaggregator import iter_deaggregate_records


def read_all(client, stream_name: str) -> dict[str, list[dict]]:
    """Every user record per shard, in stream order (Boto3-format records, de-aggregated)."""
    shards = client.list_shards(StreamName=stream_name)["Shards"]
    out: dict[str, list[dict]] = {}
    for shard in shards:
        iterator = client.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict] = []
        while iterator:
            resp = client.get_records(ShardIterator=iterator, Limit=10_000)
            records.extend(resp["Records"])
            if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                break
            iterator = resp.get("NextShardIterator")
        out[shard["ShardId"]] = list(iter_deaggregate_records(records, data_format="Boto3"))
    return out


def payload(record: dict) -> bytes:
    """The user record's bytes: the de-aggregator base64-encodes records it took out of an
    aggregate and passes plain Boto3 records through as they are."""
    import base64

    data = record["kinesis"]["data"]
    return base64.b64decode(data) if record["kinesis"].get("aggregated") else bytes(data)
