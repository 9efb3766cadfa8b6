"""The connection options Glue documents for a Kinesis source (no imports: the unit tests load
this file on its own)."""

# The connection options Glue documents for a Kinesis source: the API's
# KinesisStreamingSourceOptions (in the camelCase Python keys) and the Kinesis connection page's
# option reference (shared/specs/aws-facts.md, B1). Anything else is refused, as a typo would
# silently do nothing on Glue.
KINESIS_OPTIONS = frozenset(
    {
        "streamARN",
        "streamName",
        "endpointUrl",
        "classification",
        "delimiter",
        "inferSchema",
        "schema",
        "startingPosition",
        "startingTimestamp",
        "maxFetchTimeInMs",
        "maxFetchRecordsPerShard",
        "maxRecordPerRead",
        "addIdleTimeBetweenReads",
        "idleTimeBetweenReadsInMs",
        "describeShardInterval",
        "numRetries",
        "retryIntervalMs",
        "maxRetryIntervalMs",
        "avoidEmptyBatches",
        "awsSTSRoleARN",
        "awsSTSSessionName",
        "awsSTSEndpoint",
        "addRecordTimestamp",
        "emitConsumerLagMetrics",
        "fanoutConsumerARN",
    }
)
