terraform {
  required_version = ">= 1.6" # expressions only: no provider
}
