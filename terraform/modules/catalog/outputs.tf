output "database_name" {
  description = "Glue database to query with Athena (tables raw_movies and bad_records)."
  value       = aws_glue_catalog_database.pipeline.name
}

output "tables" {
  description = "Tables of the database."
  value       = [aws_glue_catalog_table.raw_movies.name, aws_glue_catalog_table.bad_records.name]
}
