# Point the AWS provider at LocalStack, the way `tflocal` (terraform-local) does it. Copy this
# file into terraform/ to use it: Terraform merges any *_override.tf of the root module into
# its configuration, so it must not stay there for a deployment to AWS.
#   cp terraform/localstack/localstack_providers_override.tf terraform/
# LocalStack's community edition serves Kinesis, S3, KMS, IAM, STS, SNS, SQS, EventBridge,
# Step Functions, CloudWatch, CloudWatch Logs, Secrets Manager and EC2 (the VPC, subnets, NAT and
# endpoints, emulated); Glue and Redshift Serverless
# need LocalStack Pro (see terraform/README.md for applying the rest with -target).

# The region comes from AWS_REGION, as for AWS (`eval "$(.venv/bin/moviestream stack env)"` sets it).
provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true

  endpoints {
    cloudwatch         = "http://localhost:4566"
    ec2                = "http://localhost:4566"
    events             = "http://localhost:4566"
    glue               = "http://localhost:4566"
    iam                = "http://localhost:4566"
    kinesis            = "http://localhost:4566"
    kms                = "http://localhost:4566"
    logs               = "http://localhost:4566"
    redshiftserverless = "http://localhost:4566"
    s3                 = "http://s3.localhost.localstack.cloud:4566"
    secretsmanager     = "http://localhost:4566"
    sfn                = "http://localhost:4566"
    sns                = "http://localhost:4566"
    sqs                = "http://localhost:4566"
    sts                = "http://localhost:4566"
  }
}
