Feature: The data bucket is private, TLS only and versioned

  Scenario Outline: Public access is blocked in every way
    Given I have aws_s3_bucket_public_access_block defined
    Then it must contain <setting>
    And its value must be true

    Examples:
      | setting                 |
      | block_public_acls       |
      | block_public_policy     |
      | ignore_public_acls      |
      | restrict_public_buckets |

  Scenario: Versioning is on
    Given I have aws_s3_bucket_versioning defined
    Then it must contain versioning_configuration
    And it must contain status
    And its value must be Enabled

  Scenario: The bucket policy refuses requests that are not over TLS
    Given I have aws_s3_bucket_policy defined
    Then it must contain policy
    And its value must match the "aws:SecureTransport" regex
