"""A small, safe arithmetic language for ``lr_lambda`` and metric expressions.

Text is parsed with :func:`ast.parse`, every node is checked against an explicit whitelist
(numbers, the allowed variables (``epoch``, and ``step`` as another name for it),
``pi``/``e``, arithmetic, comparisons, ``and``/``or``/``not``, ``a if c else b`` and calls of
a few math functions), and the validated tree is turned into nested Python closures. User
text is never passed to ``eval``/``exec``/``compile``. All arithmetic is done in floats,
every intermediate result must be a finite real number, and comparisons and ``not`` yield
1.0 or 0.0.

Example:
    >>> parse_expression("0.1**(epoch//20)")(45)
    0.010000000000000002
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import warnings
from collections.abc import Callable
from typing import Any

from lrplot.errors import ExpressionError

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "Expression", "evaluate", "parse_expression"]

MAX_LENGTH: int = 2000
MAX_NODES: int = 500
MAX_DEPTH: int = 100

_Fn = Callable[[tuple[float, ...]], float]

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
#: other names of a variable: ``step`` is the scheduler-step counter torch passes to
#: ``lr_lambda`` (``last_epoch``), the same number as ``epoch`` whether the scheduler steps
#: per epoch or per batch.
ALIASES: dict[str, str] = {"step": "epoch"}

# fmt: off
# name -> (min args, max args or None for unbounded, implementation)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "min": (1, None, lambda *a: min(a)), "max": (1, None, lambda *a: max(a)), "abs": (1, 1, abs),
    "exp": (1, 1, math.exp), "log": (1, 2, math.log), "sqrt": (1, 1, math.sqrt),
    "sin": (1, 1, math.sin), "cos": (1, 1, math.cos),
    "floor": (1, 1, math.floor), "ceil": (1, 1, math.ceil),
}

_BINOPS: dict[type, tuple[str, Callable[[float, float], Any]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv), ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod), ast.Pow: ("**", operator.pow),
}
_CMPOPS: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_OP_SYMBOLS: dict[type, str] = {
    ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
    ast.NotIn: "not in",
}
_SYNTAX_NAMES: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions", ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings", ast.FormattedValue: "f-strings", ast.List: "lists",
    ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets", ast.NamedExpr: "':=' assignment",
    ast.Starred: "'*' unpacking", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slices",
}
_CONST_KINDS: dict[type, str] = {
    bool: "booleans (use 1 or 0)", str: "strings", bytes: "strings", complex: "complex numbers",
}
_ZERO_MESSAGES = {"%": "modulo by zero", "**": "zero raised to a negative power"}
_RESERVED = {*CONSTANTS, *FUNCTIONS}
_FUNC_HINT = "functions: " + ", ".join(FUNCTIONS)
_SYNTAX_HINT = (
    "only numbers, epoch (or step), pi, e, arithmetic, comparisons, 'a if c else b' and calls"
)
# fmt: on


class _Fail(Exception):
    """Internal: an evaluation step failed; carries the reason only."""


def _show(text: str) -> str:
    shown = text if text.isprintable() else repr(text)[1:-1]
    return f"'{shown[:77]}...'" if len(shown) > 80 else f"'{shown}'"


def _num(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value.is_integer() else repr(value)


class Expression:
    """A parsed, validated expression of the variable `epoch` (also called `step`)."""

    source: str
    variables: tuple[str, ...]

    def __init__(self, source: str, variables: tuple[str, ...] = ("epoch",)) -> None:
        """Parse and validate `source` without evaluating it, e.g. ``Expression("0.95**epoch")``."""
        _check_variables(variables)
        self.source = _check_text(source)
        self.variables = tuple(variables)
        compiler = _Compiler(self.source, self.variables)
        self._fn = compiler.build()
        #: the names shown in error messages: ``step`` when the text says only ``step``.
        self._shown = tuple(
            next((a for a, v in ALIASES.items() if v == n and a in compiler.used), n)
            if n not in compiler.used
            else n
            for n in self.variables
        )

    def __call__(self, epoch: float, *rest: float) -> float:
        """Evaluate at `epoch` (then any further variables), e.g. ``expr(3) -> 0.857375``."""
        values = (float(epoch),) if not rest else (float(epoch), *map(float, rest))
        if len(values) != len(self.variables):
            raise TypeError(f"expected {len(self.variables)} value(s), got {len(values)}")
        try:
            if not all(map(math.isfinite, values)):
                raise _Fail("input is not finite")
            return self._fn(values)
        except _Fail as exc:
            where = ", ".join(f"{n} {_num(x)}" for n, x in zip(self._shown, values, strict=True))
            raise ExpressionError(f"expression {_show(self.source)}: {exc} at {where}") from None

    def __repr__(self) -> str:
        extra = "" if self.variables == ("epoch",) else f", variables={self.variables!r}"
        return f"Expression({self.source!r}{extra})"

    def __reduce__(self) -> tuple[Any, tuple[str, tuple[str, ...]]]:
        return (type(self), (self.source, self.variables))


def parse_expression(text: str, *, variables: tuple[str, ...] = ("epoch",)) -> Expression:
    """Parse and validate `text` without evaluating it, e.g. ``parse_expression("0.95**epoch")``."""
    return Expression(text, variables)


def evaluate(text: str, epoch: float) -> float:
    """Parse `text` and evaluate it at `epoch`, e.g. ``evaluate("min(1, epoch/5)", 2) -> 0.4``."""
    return parse_expression(text)(epoch)


def _check_variables(variables: tuple[str, ...]) -> None:
    for name in variables:
        if (
            not (isinstance(name, str) and name.isidentifier())
            or name[0] == "_"
            or name in _RESERVED
        ):
            raise ValueError(f"invalid expression variable name {name!r}")


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, not {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression {_show(text)}: too long ({len(text)} > {MAX_LENGTH})")
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        raise ExpressionError(f"expression {_show(text)}: contains a null byte or bad character")
    depth = 0
    for ch in text:  # reject deep nesting before ast.parse can hit its own recursion limits
        depth += (ch in "([{") - (ch in ")]}")
        if depth > MAX_DEPTH:
            reason = f"nested deeper than {MAX_DEPTH} levels"
            raise ExpressionError(f"expression {_show(text)}: {reason}")
    return text


class _Compiler:
    """Validate an expression's AST against the whitelist and build closures for it."""

    def __init__(self, source: str, variables: tuple[str, ...]) -> None:
        self.source = source
        self.variables = variables
        #: the variables and their aliases, each with its index in the values tuple.
        self.names = {name: i for i, name in enumerate(variables)}
        for alias, name in ALIASES.items():
            if name in self.names and alias not in self.names:
                self.names[alias] = self.names[name]
        self.used: set[str] = set()

    def error(self, reason: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(f"expression {_show(self.source)}: {reason}", hint=hint)

    def build(self) -> _Fn:
        try:
            with warnings.catch_warnings():  # e.g. SyntaxWarning "invalid decimal literal"
                warnings.simplefilter("ignore")
                tree = ast.parse(self.source, mode="eval")
        except SyntaxError as exc:
            raise self.error((exc.msg or "invalid syntax").splitlines()[0]) from None
        except (ValueError, RecursionError, MemoryError, OverflowError):
            raise self.error("too complex or malformed") from None
        stack: list[ast.AST] = [tree.body]
        count = 0
        while stack:  # iterative, stops early; ast.walk would also import lazily
            count += 1
            if count > MAX_NODES:
                raise self.error(f"too complex (over {MAX_NODES} syntax nodes)")
            stack.extend(ast.iter_child_nodes(stack.pop()))
        return self.compile(tree.body, 0)

    def suggest(self, name: str, choices: list[str]) -> str | None:
        close = difflib.get_close_matches(name, choices, n=1)
        return f"did you mean '{close[0]}'?" if close else None

    def compile(self, node: ast.AST, depth: int) -> _Fn:
        if depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels")
        depth += 1
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub, ast.Not)):
            arg = self.compile(node.operand, depth)
            if isinstance(node.op, ast.UAdd):
                return arg
            if isinstance(node.op, ast.USub):
                return lambda v: -arg(v)
            return lambda v: 0.0 if arg(v) else 1.0
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self.binop(
                *_BINOPS[type(node.op)], *(self.compile(n, depth) for n in (node.left, node.right))
            )
        if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
            return self.compare(node, depth)
        if isinstance(node, ast.BoolOp):
            return self.boolop(
                isinstance(node.op, ast.And), [self.compile(n, depth) for n in node.values]
            )
        if isinstance(node, ast.IfExp):
            test, body, orelse = (
                self.compile(n, depth) for n in (node.test, node.body, node.orelse)
            )
            return lambda v: body(v) if test(v) else orelse(v)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        ops = [getattr(node, "op", None), *getattr(node, "ops", [])]
        bad = next((_OP_SYMBOLS[type(o)] for o in ops if type(o) in _OP_SYMBOLS), None)
        if bad:
            raise self.error(f"operator '{bad}' is not allowed")
        what = _SYNTAX_NAMES.get(type(node), f"'{type(node).__name__}' syntax")
        raise self.error(f"{what} not allowed", hint=_SYNTAX_HINT)

    def constant(self, value: object) -> _Fn:
        if type(value) not in (int, float):
            raise self.error(f"{_CONST_KINDS.get(type(value), repr(value))} not allowed")
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.error("number is too large")
        return lambda v: number

    def name(self, name: str) -> _Fn:
        if name in self.names:
            self.used.add(name)
            return operator.itemgetter(self.names[name])
        if name in CONSTANTS:
            number = CONSTANTS[name]
            return lambda v: number
        if name in FUNCTIONS:
            raise self.error(f"'{name}' is a function; call it like {name}(...)")
        allowed = [*self.names, *CONSTANTS]
        raise self.error(
            f"unknown name '{name}' (allowed: {', '.join(allowed)})",
            hint=self.suggest(name, [*allowed, *FUNCTIONS]),
        )

    def binop(self, sym: str, fn: Callable[[float, float], Any], left: _Fn, right: _Fn) -> _Fn:
        zero = _ZERO_MESSAGES.get(sym, "division by zero")

        def run(v: tuple[float, ...]) -> float:
            x, y = left(v), right(v)
            try:
                r = fn(x, y)
            except ZeroDivisionError:
                raise _Fail(zero) from None
            except (OverflowError, ValueError):
                raise _Fail(f"result of '{sym}' is not finite") from None
            if r.__class__ is not float:
                raise _Fail(f"result of '{sym}' is not a real number")
            if not math.isfinite(r):
                raise _Fail(f"result of '{sym}' is not finite")
            return r

        return run

    def compare(self, node: ast.Compare, depth: int) -> _Fn:
        first = self.compile(node.left, depth)
        rest = [
            (_CMPOPS[type(op)], self.compile(n, depth))
            for op, n in zip(node.ops, node.comparators, strict=True)
        ]

        def run(v: tuple[float, ...]) -> float:
            x = first(v)
            for op, right in rest:
                y = right(v)
                if not op(x, y):
                    return 0.0
                x = y
            return 1.0

        return run

    def boolop(self, is_and: bool, parts: list[_Fn]) -> _Fn:
        def run(v: tuple[float, ...]) -> float:
            x = 0.0
            for part in parts:
                x = part(v)
                if bool(x) != is_and:
                    return x
            return x

        return run

    def call(self, node: ast.Call, depth: int) -> _Fn:
        if not isinstance(node.func, ast.Name):
            raise self.error("only the built-in math functions can be called", hint=_FUNC_HINT)
        name = node.func.id
        if name in self.names or name in CONSTANTS:
            raise self.error(f"'{name}' is not a function", hint=_FUNC_HINT)
        if name not in FUNCTIONS:
            tip = self.suggest(name, list(FUNCTIONS))
            hint = f"{tip} {_FUNC_HINT}" if tip else _FUNC_HINT
            raise self.error(f"unknown function '{name}'", hint=hint)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.error(f"{name}() takes positional arguments only")
        low, high, fn = FUNCTIONS[name]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            count = f"{low}" if low == high else f"{low} to {high}" if high else f"{low} or more"
            raise self.error(f"{name}() takes {count} argument(s), got {len(node.args)}")
        args = [self.compile(a, depth) for a in node.args]

        def run(v: tuple[float, ...]) -> float:
            values = [a(v) for a in args]
            try:
                r = float(fn(*values))
            except ZeroDivisionError:
                raise _Fail(f"division by zero in {name}()") from None
            except ValueError:
                raise _Fail(f"{name}() argument out of domain") from None
            except OverflowError:
                raise _Fail(f"result of {name}() is not finite") from None
            if not math.isfinite(r):
                raise _Fail(f"result of {name}() is not finite")
            return r

        return run
