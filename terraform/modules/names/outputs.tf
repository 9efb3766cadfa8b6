output "project" {
  description = "The project's name in this environment (moviestream, or moviestream-<suffix>)."
  value       = local.project
}

output "names" {
  description = "Every name of resources.json for this environment, as strings."
  value       = local.names
}
