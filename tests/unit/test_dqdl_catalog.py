"""The rule catalog (what the parser accepts) and the compilers (what the evaluator judges) name
the same rule types, so no rule can parse and then fail to compile, or compile and never parse."""

from moviestream.quality.catalog import SUPPORTED, UNSUPPORTED
from moviestream.quality.rules.compile import COMPILERS


def test_every_supported_rule_type_has_exactly_one_compiler():
    assert sorted(SUPPORTED) == sorted(COMPILERS)


def test_no_refused_rule_type_is_compiled():
    assert not set(UNSUPPORTED) & set(COMPILERS)
