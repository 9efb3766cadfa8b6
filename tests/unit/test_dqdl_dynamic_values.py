"""Every function of the dynamic numbers (moviestream/quality/dynamic.py) in exact values: each
expression, over a given history of earlier runs (oldest first), gives exactly this number or
this error. The expressions are parsed as a RowCount rule's number, as a user would write them."""

from __future__ import annotations

import pytest

from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.dynamic import BinOp, Call, DynamicError, Neg, Num, evaluate, is_dynamic

HISTORY = (1.0, 2.0, 4.0, 8.0)  # oldest first: last(1) is 8


def expression(text: str):
    (rule,) = parse_ruleset(f"Rules = [ RowCount > {text} ]").rules
    return rule.condition.operands[0].value


@pytest.mark.parametrize(
    ("text", "history", "expected"),
    [
        ("last(1)", HISTORY, 8.0),
        ("avg(last(2))", HISTORY, 6.0),
        ("avg(last(10))", HISTORY, 3.75),  # fewer runs than asked: the ones there are
        ("sum(last(3))", HISTORY, 14.0),
        ("sum(last(3))", (), 0.0),  # no run yet: last() is one 0
        ("max(last(3))", HISTORY, 8.0),
        ("min(last(3))", HISTORY, 2.0),
        ("median(last(3))", HISTORY, 4.0),
        ("median(last(4))", HISTORY, 3.0),
        ("std(last(2))", HISTORY, 2.0),
        ("std(last(4))", (2.0, 4.0, 4.0, 4.0), 0.8660254037844386),
        ("index(last(3), 0)", HISTORY, 8.0),
        ("index(last(3), 2)", HISTORY, 2.0),
        ("abs(last(1) - 10)", HISTORY, 2.0),
        ("-last(1)", HISTORY, -8.0),
        ("-avg(last(2)) * 2", HISTORY, -12.0),
        ("last(1) + 1", HISTORY, 9.0),
        ("last(1) - 1", HISTORY, 7.0),
        ("last(1) * 3", HISTORY, 24.0),
        ("last(1) / 4", HISTORY, 2.0),
        ("avg(last(4)) * 0.9 + 1", HISTORY, 4.375),
        ("last(1)", (), 0.0),
        ("index(last(3), 3)", HISTORY, "index 3 is out of range: last(3) has 3 value(s)"),
        ("index(last(3), 1.5)", HISTORY, "index() needs a whole number of at least 0, not 1.5"),
        ("index(last(3), -1)", HISTORY, "index() needs a whole number of at least 0, not -1"),
        ("index(last(3))", HISTORY, "index() takes a list and a position: index(last(k), i)"),
        ("index(2, 0)", HISTORY, "index() takes a list, such as last(k), not 2"),
        ("avg(2)", HISTORY, "avg() takes a list, such as last(k), not 2"),
        ("last(0)", HISTORY, "last() needs a whole number of at least 1, not 0"),
        ("avg(last(2.5))", HISTORY, "last() needs a whole number of at least 1, not 2.5"),
        ("avg(last(1), 2)", HISTORY, "avg() takes one argument"),
        ("abs(last(1), 2)", HISTORY, "abs() takes one argument"),
        ("abs(avg(last(2)) - last(1))", HISTORY, 2.0),
        ("last(1) / (last(1) - 8)", HISTORY, "last(1) / (last(1) - 8) divides by zero"),
        ("avg(last(2)) + index(last(2), 1) * 2", HISTORY, 14.0),
    ],
)
def test_the_expression_gives_exactly(text, history, expected):
    expr = expression(text)
    if isinstance(expected, str):
        with pytest.raises(DynamicError) as raised:
            evaluate(expr, history)
        assert str(raised.value) == expected
    else:
        assert evaluate(expr, history) == expected


@pytest.mark.parametrize(
    ("expr", "history", "message"),
    [
        (
            Call("last", (Num(1), Num(2))),
            HISTORY,
            "last() takes at most one argument, the number of earlier runs",
        ),
        (Call("avg", (Call("last", (Num(0),)),)), (), "last() needs a whole number of at least 1, not 0"),
        (
            Call("max", (Call("index", (Call("last", (Num(2),)), Num(0))),)),
            HISTORY,
            "max() takes a list, such as last(k), not index(last(2), 0)",
        ),
        (
            Neg(Call("last", (Num(2),))),
            HISTORY,
            "last(2) is a list of 2 values, not a number: aggregate it, e.g. avg(last(2))",
        ),
        (
            BinOp("+", Num(1), Call("last", (Num(2),))),
            HISTORY,
            "last(2) is a list of 2 values, not a number: aggregate it, e.g. avg(last(2))",
        ),
        (
            BinOp("+", Call("last", (Num(3),)), Num(1)),
            HISTORY,
            "last(3) is a list of 3 values, not a number: aggregate it, e.g. avg(last(3))",
        ),
        (
            Call("abs", (Call("last", (Num(2),)),)),
            HISTORY,
            "last(2) is a list of 2 values, not a number: aggregate it, e.g. avg(last(2))",
        ),
        (
            Call("last", (Call("last", (Num(2),)),)),
            HISTORY,
            "last(2) is a list of 2 values, not a number: aggregate it, e.g. avg(last(2))",
        ),
        (
            Call("index", (Call("last", (Num(2),)), Call("last", (Num(2),)))),
            HISTORY,
            "last(2) is a list of 2 values, not a number: aggregate it, e.g. avg(last(2))",
        ),
        (
            Call("mode", (Call("last", (Num(2),)),)),
            HISTORY,
            "unknown function mode(): one of last, avg, median, max, min, sum, std, abs, index",
        ),
        (
            Call("last", (Num(2),)),
            HISTORY,
            "last(2) is a list of 2 values, not a number: aggregate it, e.g. avg(last(2))",
        ),
    ],
)
def test_what_the_parser_would_refuse_is_still_an_error_not_a_number(expr, history, message):
    with pytest.raises(DynamicError) as raised:
        evaluate(expr, history)
    assert str(raised.value) == message


def test_a_list_of_one_value_is_that_value():
    assert evaluate(Call("last", (Num(1),)), HISTORY) == 8.0
    assert evaluate(BinOp("*", Num(2), Call("last", ())), HISTORY) == 16.0  # last() is last(1)


@pytest.mark.parametrize(
    ("expr", "text", "dynamic"),
    [
        (Num(0.5), "0.5", False),
        (Num(1e-7), "1e-07", False),
        (Call("index", (Call("last", (Num(3),)), Num(1))), "index(last(3), 1)", True),
        (BinOp("+", Num(1), Num(2)), "1 + 2", False),
        (BinOp("*", Num(1), Call("last", ())), "1 * last()", True),
        (BinOp("-", Call("last", ()), Num(2), parenthesised=True), "(last() - 2)", True),
        (Neg(Num(3)), "-3", False),
        (Neg(Call("last", ())), "-last()", True),
    ],
)
def test_rendering_and_whether_an_expression_reads_the_history(expr, text, dynamic):
    assert (expr.render(), is_dynamic(expr)) == (text, dynamic)
