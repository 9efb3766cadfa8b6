Feature: Data at rest is encrypted with the pipeline's customer managed key

  Scenario: The stream is encrypted with KMS
    Given I have aws_kinesis_stream defined
    Then it must contain encryption_type
    And its value must be KMS

  Scenario: The bucket's default encryption is SSE-KMS
    Given I have aws_s3_bucket_server_side_encryption_configuration defined
    Then it must contain rule
    And it must contain apply_server_side_encryption_by_default
    And it must contain sse_algorithm
    And its value must be aws:kms

  Scenario: The alert topic is encrypted
    Given I have aws_sns_topic defined
    Then it must contain kms_master_key_id

  Scenario: The pipeline's key rotates
    Given I have aws_kms_key defined
    Then it must contain enable_key_rotation
    And its value must be true

  Scenario: The Glue jobs run with a security configuration
    Given I have aws_glue_job defined
    Then it must contain security_configuration
