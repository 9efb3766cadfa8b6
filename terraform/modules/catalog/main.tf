# Tables over the pipeline's files so they can be queried with Athena: the historical CSVs under
# raw/ and the bad records (JSON lines) under bad_records/, partitioned by ingest_date with
# partition projection (no crawler, no MSCK REPAIR). And, optionally, a schedule that backfills
# the whole raw/ prefix through the state machine (files loaded before are skipped by checksum).

resource "aws_glue_catalog_database" "pipeline" {
  name        = var.database_name
  description = "moviestream: raw movie files and bad records"
}

resource "aws_glue_catalog_table" "raw_movies" {
  name          = "raw_movies"
  database_name = aws_glue_catalog_database.pipeline.name
  description   = "The historical movies CSVs under ${var.raw_prefix}/ (every column as text, as in the file)."
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification           = "csv"
    "skip.header.line.count" = "1"
  }

  storage_descriptor {
    location      = "s3://${var.bucket_name}/${var.raw_prefix}/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
      parameters = {
        separatorChar = ","
        quoteChar     = "\""
        escapeChar    = "\\"
      }
    }

    dynamic "columns" {
      for_each = var.csv_columns
      content {
        name = lower(columns.value)
        type = "string"
      }
    }
  }
}

resource "aws_glue_catalog_table" "bad_records" {
  name          = "bad_records"
  database_name = aws_glue_catalog_database.pipeline.name
  description   = "Records the pipeline refused, with their reasons (one JSON object per line)."
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification                         = "json"
    "projection.enabled"                   = "true"
    "projection.ingest_date.type"          = "date"
    "projection.ingest_date.format"        = "yyyy-MM-dd"
    "projection.ingest_date.range"         = "${var.bad_records_since},NOW"
    "projection.ingest_date.interval"      = "1"
    "projection.ingest_date.interval.unit" = "DAYS"
    "storage.location.template"            = "s3://${var.bucket_name}/${var.bad_records_prefix}/ingest_date=$${ingest_date}/"
  }

  partition_keys {
    name = "ingest_date"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${var.bucket_name}/${var.bad_records_prefix}/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
    }

    # The bad-record document of moviestream/pipeline/read_out.py (bad_record_json).
    dynamic "columns" {
      for_each = local.bad_record_columns
      content {
        name = columns.key
        type = columns.value
      }
    }
  }
}

locals {
  typed_struct = join(",", [
    "series_title:string", "released_year:int", "certificate:string", "runtime_minutes:int",
    "genres:array<string>", "imdb_rating:decimal(3,1)", "overview:string", "meta_score:int",
    "director:string", "star1:string", "star2:string", "star3:string", "star4:string",
    "no_of_votes:bigint", "gross_usd:bigint", "poster_link:string",
  ])
  bad_record_columns = {
    reasons                       = "array<string>"
    failed_rules                  = "array<string>"
    event_id                      = "string"
    source                        = "string"
    row_number                    = "bigint"
    produced_at_raw               = "string"
    movie_id                      = "string"
    shard_id                      = "string"
    sequence_number               = "string"
    sub_sequence_number           = "int"
    partition_key                 = "string"
    approximate_arrival_timestamp = "string"
    record_error                  = "string"
    parse_errors                  = "array<string>"
    missing_fields                = "array<string>"
    typed                         = "struct<${local.typed_struct}>"
    raw_fields                    = "map<string,string>"
    payload_base64                = "string"
    # the backfill's unreadable CSV rows (moviestream/backfill/backfill.py): where they were, as read
    line_number = "bigint"
    raw_line    = "string"
    # a file the backfill could not read at all (FILE_FAILURE_FIELDS): one record, scope "file"
    source_uri    = "string"
    failure_scope = "string"
  }
}

resource "aws_cloudwatch_event_rule" "backfill_schedule" {
  count               = var.backfill_schedule == null ? 0 : 1
  name                = "${var.name_prefix}-backfill-schedule"
  description         = "Backfill everything under ${var.raw_prefix}/ on a schedule (files loaded before are skipped)."
  schedule_expression = var.backfill_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "backfill_schedule" {
  count    = var.backfill_schedule == null ? 0 : 1
  rule     = aws_cloudwatch_event_rule.backfill_schedule[0].name
  arn      = var.state_machine_arn
  role_arn = var.trigger_role_arn
  # The shape of an S3 Object Created event, naming the whole prefix: the state machine passes
  # s3://bucket/raw/ to the backfill, which loads every file under it not loaded before.
  input = jsonencode({
    detail = { bucket = { name = var.bucket_name }, object = { key = "${var.raw_prefix}/" } }
  })
}
