"""DQDL (AWS Glue Data Quality Definition Language): parser and Spark evaluator."""

from moviestream.quality.dqdl import DqdlSyntaxError, Rule, Ruleset, parse_ruleset

__all__ = ["DqdlSyntaxError", "Rule", "Ruleset", "parse_ruleset"]
