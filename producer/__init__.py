"""Producer: replay a movies CSV into Kinesis (KPL-style aggregation), and generate synthetic data."""
