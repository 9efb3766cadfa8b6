# terraform plan -var-file=envs/prod.tfvars
environment                   = "prod"
name_suffix                   = "prod"
stream_mode                   = "PROVISIONED"
shard_count                   = 4
stream_retention_hours        = 168
bad_records_expiration_days   = 180
rule_outcomes_expiration_days = 730
force_destroy_bucket          = false
kms_deletion_window_days      = 30
# Cost guardrails (docs/COSTS.md): room to scale to 64 RPUs, and a daily limit that only logs
# and emits a metric (with an alarm), so loading never stops for cost.
redshift_max_capacity              = 64
redshift_daily_rpu_hours_limit     = 400
redshift_usage_limit_breach_action = "emit-metric"
missing_data_alarms                = "breaching"
log_retention_days                 = 90
# Without vpc_id Terraform creates the network (modules/network). To use your VPC instead, give
# it with private subnets in three Availability Zones (see modules/network/README.md):
# vpc_id     = "vpc-0123456789abcdef0"
# subnet_ids = ["subnet-aaaa", "subnet-bbbb", "subnet-cccc"]
