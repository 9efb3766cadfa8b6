# This environment's names, from moviestream/core/resources.json (the names the local stack uses).
# With a suffix, every name that starts with the project's gets it (moviestream-movies becomes
# moviestream-dev-movies, moviestream.pipeline becomes moviestream-dev.pipeline), so two
# environments can share an account and its default EventBridge bus. Prefixes inside the bucket
# (raw, bad_records, ...) and the warehouse schema keep their names: each environment has its own
# bucket and Redshift namespace. Pure expressions, no provider: tests evaluate it with
# `terraform console`.

locals {
  resource_names = jsondecode(var.resource_names_json)
  base           = local.resource_names.project
  project        = var.name_suffix == "" ? local.base : "${local.base}-${var.name_suffix}"
  names = {
    for key, value in local.resource_names : key => (
      startswith(tostring(value), local.base) ? "${local.project}${trimprefix(tostring(value), local.base)}" : tostring(value)
    ) if !startswith(key, "_")
  }
}
