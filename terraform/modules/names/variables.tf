variable "resource_names_json" {
  description = "The text of moviestream/core/resources.json."
  type        = string
}

variable "name_suffix" {
  description = "Appended to the project's part of every name; empty keeps resources.json's names."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z0-9]{1,12})?$", var.name_suffix))
    error_message = "name_suffix must be empty or up to 12 lowercase letters and digits, e.g. dev or prod."
  }
}
