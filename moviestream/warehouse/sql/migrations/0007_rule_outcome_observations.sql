-- Rule outcomes: DetectAnomalies' findings (issue 21), as Glue reports them: a JSON list of
-- {"Description", "MetricBasedObservation": {"MetricName", "MetricValues": {"ActualValue",
-- "ExpectedValue", "LowerLimit", "UpperLimit"}}}; NULL for a rule that observes nothing.
ALTER TABLE movies.rule_outcomes ADD COLUMN observations VARCHAR(MAX);
