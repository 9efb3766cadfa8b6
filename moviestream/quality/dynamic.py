"""Dynamic rules' numbers: expressions over a metric's values in earlier runs (pure).

DQDL lets a rule's threshold be an expression such as ``avg(last(10)) * 0.8``, evaluated against
the same metric in earlier runs of the same evaluation context (AWS's DQDL reference, "Dynamic
rules"; docs/ARCHITECTURE.md's data-quality contract has this engine's choices). This module
holds the expression tree and its evaluation; the parser builds the tree and the evaluator
supplies the history.

Semantics (AWS documents the first four; the rest are this engine's choices, in the data-quality
contract of docs/ARCHITECTURE.md):
- ``last(k)``: the k newest earlier values, newest first; fewer than k: all there are; ``last()``
  is ``last(1)``. The current run is never in the history.
- With no history, ``last`` yields 0.0 (a one-element list holding 0.0).
- A list where a number is needed is an error, except a one-element list, which is its element
  (``RowCount > last(5)`` is an error with five earlier runs, a number with one).
- ``index(last(k), i)``: the i-th newest (0 = newest); out of range is an error.
- ``std``: the population standard deviation (as the StandardDeviation rule computes it), 0.0 for
  one value. ``median`` of an even count: the mean of the two middle values. ``avg``, ``median``,
  ``std``, ``min``, ``max`` and ``sum`` take a list (``last`` never yields an empty one).
- Operators: ``*`` and ``/`` before ``+`` and ``-`` (the grammar puts all four at one level, left to
  right; AWS's examples always parenthesise, and lint warns on mixed unparenthesised operators).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

FUNCTIONS = ("last", "avg", "median", "max", "min", "sum", "std", "abs", "index")
LIST_FUNCTIONS = frozenset({"avg", "median", "max", "min", "sum", "std", "index"})  # take last(k)


class DynamicError(ValueError):
    """The expression cannot produce a number for this history: the rule's outcome is an error."""


@dataclass(frozen=True)
class Num:
    value: float

    def render(self) -> str:
        return format(self.value, "g")


@dataclass(frozen=True)
class Call:
    name: str  # one of FUNCTIONS
    args: tuple[Expr, ...]

    def render(self) -> str:
        return f"{self.name}({', '.join(a.render() for a in self.args)})"


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: Expr
    right: Expr
    parenthesised: bool = False  # written inside ( ): kept when rendered

    def render(self) -> str:
        text = f"{self.left.render()} {self.op} {self.right.render()}"
        return f"({text})" if self.parenthesised else text


@dataclass(frozen=True)
class Neg:
    operand: Expr

    def render(self) -> str:
        return f"-{self.operand.render()}"


Expr = Num | Call | BinOp | Neg
Value = float | tuple[float, ...]  # a number, or a list of earlier values (newest first)


def is_dynamic(expr: Expr) -> bool:
    """Whether the expression reads the history (a number without calls is folded at parse time)."""
    if isinstance(expr, Call):
        return True
    if isinstance(expr, BinOp):
        return is_dynamic(expr.left) or is_dynamic(expr.right)
    if isinstance(expr, Neg):
        return is_dynamic(expr.operand)
    return False


def evaluate(expr: Expr, history: Sequence[float]) -> float:
    """The expression's number for a metric whose earlier values are ``history`` (oldest first).
    Raises DynamicError when it cannot be one."""
    return _number(_eval(expr, tuple(reversed(history))), expr)


def _number(value: Value, expr: Expr) -> float:
    if isinstance(value, tuple):
        if len(value) == 1:
            return value[0]
        raise DynamicError(
            f"{expr.render()} is a list of {len(value)} values, not a number: aggregate it, e.g. "
            f"avg({expr.render()})"
        )
    return value


def _list(value: Value, expr: Expr, function: str) -> tuple[float, ...]:
    if not isinstance(value, tuple):
        raise DynamicError(f"{function}() takes a list, such as last(k), not {expr.render()}")
    return value


def _eval(expr: Expr, newest_first: tuple[float, ...]) -> Value:
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, Neg):
        return -_number(_eval(expr.operand, newest_first), expr.operand)
    if isinstance(expr, BinOp):
        left = _number(_eval(expr.left, newest_first), expr.left)
        right = _number(_eval(expr.right, newest_first), expr.right)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*":
            return left * right
        if right == 0:
            raise DynamicError(f"{expr.render()} divides by zero")
        return left / right
    return _call(expr, newest_first)


def _call(call: Call, newest_first: tuple[float, ...]) -> Value:
    name, args = call.name, call.args
    if name == "last":
        if len(args) > 1:
            raise DynamicError("last() takes at most one argument, the number of earlier runs")
        k = _whole(_number(_eval(args[0], newest_first), args[0]), "last") if args else 1
        return newest_first[:k] if newest_first else (0.0,)
    if name == "index":
        if len(args) != 2:
            raise DynamicError("index() takes a list and a position: index(last(k), i)")
        values = _list(_eval(args[0], newest_first), args[0], "index")
        i = _whole(_number(_eval(args[1], newest_first), args[1]), "index", minimum=0)
        if i >= len(values):
            raise DynamicError(f"index {i} is out of range: {args[0].render()} has {len(values)} value(s)")
        return values[i]
    if len(args) != 1:
        raise DynamicError(f"{name}() takes one argument")
    if name == "abs":
        return abs(_number(_eval(args[0], newest_first), args[0]))
    values = _list(_eval(args[0], newest_first), args[0], name)
    # A list is never empty: last(k) of no earlier run is one 0.
    if name == "sum":
        return math.fsum(values)
    if name == "avg":
        return math.fsum(values) / len(values)
    if name == "max":
        return max(values)
    if name == "min":
        return min(values)
    if name == "median":
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    if name == "std":
        mean = math.fsum(values) / len(values)
        return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    raise DynamicError(f"unknown function {name}(): one of {', '.join(FUNCTIONS)}")


def _whole(value: float, function: str, minimum: int = 1) -> int:
    if value != int(value) or value < minimum:
        raise DynamicError(f"{function}() needs a whole number of at least {minimum}, not {value:g}")
    return int(value)
