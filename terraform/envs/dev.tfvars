# terraform plan -var-file=envs/dev.tfvars
environment                   = "dev"
name_suffix                   = "dev"
stream_mode                   = "ON_DEMAND"
stream_retention_hours        = 24
bad_records_expiration_days   = 30
rule_outcomes_expiration_days = 90
force_destroy_bucket          = true
kms_deletion_window_days      = 7
# Cost guardrails (docs/COSTS.md): the workgroup never scales past its 8 base RPUs, and after
# 48 RPU-hours in a UTC day (6 hours of steady loading) Redshift turns off queries until
# 00:00 UTC; the job reports the warehouse degraded and waits, and an alarm says why.
redshift_max_capacity              = 8
redshift_daily_rpu_hours_limit     = 48
redshift_usage_limit_breach_action = "deactivate"
# The streaming job is stopped whenever dev is not in use: no data is not an outage here.
missing_data_alarms = "notBreaching"
log_retention_days  = 14
# Without vpc_id Terraform creates the network (modules/network). To use your VPC instead, give
# it with private subnets in three Availability Zones (see modules/network/README.md):
# vpc_id     = "vpc-0123456789abcdef0"
# subnet_ids = ["subnet-aaaa", "subnet-bbbb", "subnet-cccc"]
