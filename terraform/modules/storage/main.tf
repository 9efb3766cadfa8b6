# The pipeline's data bucket: private, encrypted with the pipeline's KMS key, TLS only, versioned,
# expiring bad records and rule outcomes, and sending its events to EventBridge (a file under
# raw/ starts the backfill).

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_18:object-level access is audited by CloudTrail data events (account or organisation trail), not a per-bucket access-log bucket
  #checkov:skip=CKV_AWS_144:the data is reproducible (raw/ files are the source; bad records and outcomes are derived); replicate per environment if required
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: access is decided by IAM and the bucket policy only.
resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true # one KMS call per bucket key, not per object
  }
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  # Versioning must be on before rules about noncurrent versions apply.
  depends_on = [aws_s3_bucket_versioning.data]

  rule {
    id     = "expire-bad-records"
    status = "Enabled"
    filter {
      prefix = "${var.bad_records_prefix}/"
    }
    expiration {
      days = var.bad_records_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "expire-rule-outcomes"
    status = "Enabled"
    filter {
      prefix = "${var.rule_outcomes_prefix}/"
    }
    expiration {
      days = var.rule_outcomes_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  # The batches the jobs stage for Redshift's COPY are needed only until their transaction commits
  # (a replay writes them again). checkpoints/ gets no expiration: Spark reads its oldest files
  # (the query's metadata) for as long as the stream runs, and deletes old batch files itself,
  # which leaves noncurrent versions that the housekeeping rule below expires.
  rule {
    id     = "expire-staging"
    status = "Enabled"
    filter {
      prefix = "${var.staging_prefix}/"
    }
    expiration {
      days = var.staging_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "whole-bucket-housekeeping"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.tls_only.json
  # A policy is refused while the public access block is being created.
  depends_on = [aws_s3_bucket_public_access_block.data]
}

# Every object event goes to EventBridge; rules there pick what they need (raw/ starts the backfill).
resource "aws_s3_bucket_notification" "data" {
  bucket      = aws_s3_bucket.data.id
  eventbridge = true
}
