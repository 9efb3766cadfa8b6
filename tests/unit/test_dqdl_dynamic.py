"""Dynamic rules' expressions (moviestream/quality/dynamic.py), each function and operator with a
history: AWS's documented semantics and this engine's documented choices."""

from __future__ import annotations

import math

import pytest

from moviestream.quality.dynamic import BinOp, Call, DynamicError, Neg, Num, evaluate, is_dynamic

HISTORY = [10.0, 20.0, 30.0, 40.0]  # oldest first: the newest earlier run had 40


def last(k: float | None = None) -> Call:
    return Call("last", () if k is None else (Num(k),))


def call(name: str, *args) -> Call:
    return Call(name, tuple(args))


@pytest.mark.parametrize(
    ("expr", "history", "expected"),
    [
        (last(), HISTORY, 40.0),  # last() is the newest earlier value
        (last(1), HISTORY, 40.0),
        (call("avg", last(2)), HISTORY, 35.0),  # the two newest
        (call("avg", last(10)), HISTORY, 25.0),  # fewer than k: all there are
        (call("median", last(3)), HISTORY, 30.0),
        (call("median", last(4)), HISTORY, 25.0),  # even count: mean of the middle two
        (call("max", last(3)), HISTORY, 40.0),
        (call("min", last(3)), HISTORY, 20.0),
        (call("sum", last(3)), HISTORY, 90.0),
        (call("std", last(2)), HISTORY, 5.0),  # population: sqrt(((40-35)^2 + (30-35)^2) / 2)
        (call("std", last(1)), HISTORY, 0.0),
        (call("abs", Neg(last())), HISTORY, 40.0),
        (call("index", last(3), Num(0)), HISTORY, 40.0),  # 0 is the newest
        (call("index", last(3), Num(2)), HISTORY, 20.0),
        (last(), [], 0.0),  # no history: 0.0
        (call("avg", last(10)), [], 0.0),
        (BinOp("*", call("avg", last(10)), Num(0.8)), HISTORY, 20.0),  # RowCount > avg(last(10)) * 0.8
        (BinOp("-", call("min", last(10)), Num(1)), HISTORY, 9.0),
        (BinOp("+", call("max", last(10)), Num(1)), HISTORY, 41.0),
        (BinOp("+", call("avg", last(10)), call("std", last(2))), HISTORY, 30.0),
        (BinOp("/", last(), Num(4)), HISTORY, 10.0),
        (last(5), [7.0], 7.0),  # a one-element list is its element
    ],
)
def test_functions_and_operators_over_a_history(expr, history, expected):
    assert math.isclose(evaluate(expr, history), expected)


@pytest.mark.parametrize(
    ("expr", "history", "message"),
    [
        (last(5), HISTORY, "is a list of 4 values, not a number"),  # RowCount > last(5)
        (call("index", last(3), Num(3)), HISTORY, "index 3 is out of range"),
        (call("avg", Num(3)), HISTORY, "avg() takes a list"),
        (BinOp("/", last(), Num(0)), HISTORY, "divides by zero"),
        (last(0), HISTORY, "whole number of at least 1"),
        (last(1.5), HISTORY, "whole number of at least 1"),
        (call("index", last(3), Num(-1)), HISTORY, "whole number of at least 0"),
        (call("nope", last()), HISTORY, "unknown function nope()"),
    ],
)
def test_what_cannot_be_a_number_is_an_error_with_a_message(expr, history, message):
    with pytest.raises(DynamicError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expr, history)


def test_only_expressions_with_calls_read_the_history():
    assert is_dynamic(BinOp("*", call("avg", last(10)), Num(0.8)))
    assert is_dynamic(Neg(last()))
    assert not is_dynamic(BinOp("+", Num(1), Num(2)))


def test_an_expression_renders_as_written():
    expr = BinOp("*", BinOp("+", call("avg", last(10)), Num(1), parenthesised=True), Num(0.8))
    assert expr.render() == "(avg(last(10)) + 1) * 0.8"
