# terraform plan -var-file=envs/dev.tfvars
environment                   = "dev"
name_suffix                   = "dev"
stream_mode                   = "ON_DEMAND"
stream_retention_hours        = 24
bad_records_expiration_days   = 30
rule_outcomes_expiration_days = 90
force_destroy_bucket          = true
kms_deletion_window_days      = 7
# Without vpc_id Terraform creates the network (modules/network). To use your VPC instead, give
# it with private subnets in three Availability Zones (see modules/network/README.md):
# vpc_id     = "vpc-0123456789abcdef0"
# subnet_ids = ["subnet-aaaa", "subnet-bbbb", "subnet-cccc"]
