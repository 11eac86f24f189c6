"""Tests for the safe expression language in ``lrplot.expr``."""

from __future__ import annotations

import builtins
import math
import pickle
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrplot.errors import ExpressionError, UsageError
from lrplot.expr import MAX_DEPTH, MAX_LENGTH, MAX_NODES, Expression, evaluate, parse_expression

EPOCHS = [0, 1, 3, 7, 20, 45, 99.5]

VALID: list[tuple[str, Callable[[float], float]]] = [
    ("0.1**(epoch//20)", lambda x: 0.1 ** (x // 20)),
    ("0.95**epoch", lambda x: 0.95**x),
    ("min(1, (epoch+1)/5)", lambda x: min(1, (x + 1) / 5)),
    ("1 if epoch < 10 else 0.1", lambda x: 1 if x < 10 else 0.1),
    ("1/(1+epoch) + 0.1", lambda x: 1 / (1 + x) + 0.1),
    ("max(0.1, 1 - epoch/50, 0.05)", lambda x: max(0.1, 1 - x / 50, 0.05)),
    ("0.5*(1+cos(pi*epoch/100))", lambda x: 0.5 * (1 + math.cos(math.pi * x / 100))),
    ("exp(-epoch/10) + sin(epoch)**2", lambda x: math.exp(-x / 10) + math.sin(x) ** 2),
    ("log(epoch+1) + log(epoch+2, 3)", lambda x: math.log(x + 1) + math.log(x + 2, 3)),
    ("sqrt(epoch) * e", lambda x: math.sqrt(x) * math.e),
    (
        "floor(epoch/3) - ceil(epoch/4) + abs(5 - epoch)",
        lambda x: math.floor(x / 3) - math.ceil(x / 4) + abs(5 - x),
    ),
    ("epoch % 7 - -epoch + +2", lambda x: x % 7 + x + 2),
    ("1 < epoch <= 20", lambda x: float(1 < x <= 20)),
    (
        "(epoch == 7) + (epoch != 7)*2 + (epoch >= 45)",
        lambda x: (x == 7) + (x != 7) * 2 + (x >= 45),
    ),
    ("epoch > 5 and 3 or 4", lambda x: (x > 5 and 3) or 4),
    ("not epoch", lambda x: float(not x)),
    ("2**-1 + 10**2", lambda x: 0.5 + 100),
    ("min(1,\n 2)", lambda x: 1.0),
    ("  epoch  ", lambda x: x),
]


@pytest.mark.parametrize(("text", "reference"), VALID)
def test_values_match_python_math(text: str, reference: Callable[[float], float]) -> None:
    expr = parse_expression(text)
    for epoch in EPOCHS:
        got = expr(epoch)
        assert type(got) is float
        assert got == pytest.approx(reference(epoch), rel=1e-12, abs=1e-15), (text, epoch)


def test_evaluate_and_repr_and_extra_variables() -> None:
    assert evaluate("min(1, (epoch+1)/5)", 2) == pytest.approx(0.6)
    assert repr(parse_expression("0.95**epoch")) == "Expression('0.95**epoch')"
    two = parse_expression("epoch*lr", variables=("epoch", "lr"))
    assert two(2, 0.25) == 0.5
    with pytest.raises(ExpressionError, match="unknown name 'lr'"):
        parse_expression("epoch*lr")
    with pytest.raises(ValueError):
        parse_expression("1", variables=("__class__",))


def test_parse_does_not_evaluate() -> None:
    expr = parse_expression("1/0 + exp(1000)")
    with pytest.raises(ExpressionError, match=r"division by zero at epoch 3$"):
        expr(3)


# fmt: off
REJECTED = [
    "epoch.__class__", "().__class__.__bases__", "__import__('os')", "open('x')", "eval('1')",
    "exec('1')", "exp.__globals__", "[1][0]", "'a'", "b'a'", "lambda: 1", "[x for x in (1,)]",
    "(x for x in (1,))", "{x for x in (1,)}", "{x: 1 for x in (1,)}", "(x:=1)", "{1:2}", "{1}",
    "[1]", "(1, 2)", 'f"{epoch}"', "getattr(epoch,'x')", "exp(x=1)", "max(*[1])", "max(**{})",
    "True", "None", "1j", "...", "x", "epoch(1)", "exp(1)(2)", "exp", "__builtins__", "_",
    "epoch if", "epoch +", "1 2", "1 << 2", "1 @ 2", "~1", "1 & 2", "1 in 2", "epoch is 1",
    "await epoch", "(yield)", "sqrt()", "sqrt(1, 2)", "log(1, 2, 3)", "min()", "1e999", "9" * 400,
    "a\x00", "\ud800", "", "   ", "import os", "epoch = 1", "pi.real", "print(1)",
]
# fmt: on


@pytest.mark.parametrize("text", REJECTED)
def test_rejected_without_running_anything(text: str) -> None:
    called: list[str] = []

    def spy(name: str, original: Callable[..., object]) -> Callable[..., object]:
        def fake(*args: object, **kwargs: object) -> object:
            called.append(f"{name}{args[:1]}")
            return original(*args, **kwargs)

        return fake

    originals = {n: getattr(builtins, n) for n in ("__import__", "open", "eval", "exec", "print")}
    for name, original in originals.items():
        setattr(builtins, name, spy(name, original))
    try:
        parse_expression(text)
    except ExpressionError as exc:
        error: ExpressionError | None = exc
    else:
        error = None
    finally:
        for name, original in originals.items():
            setattr(builtins, name, original)
    assert error is not None, f"{text!r} was accepted"
    assert isinstance(error, UsageError) and error.exit_code == 2
    assert called == []
    assert "\n" not in str(error)
    assert str(error).startswith("expression")


def test_messages_name_expression_and_epoch() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("sin(epoch)/epoch", 0)
    assert str(info.value) == "expression 'sin(epoch)/epoch': division by zero at epoch 0"
    with pytest.raises(ExpressionError, match=r"'log\(epoch-5\)'.* at epoch 1$"):
        evaluate("log(epoch-5)", 1)
    with pytest.raises(ExpressionError, match=r"at epoch 2\.5$"):
        evaluate("1/(epoch-2.5)", 2.5)
    with pytest.raises(ExpressionError, match="not finite"):
        evaluate("1e308*10", 0)
    with pytest.raises(ExpressionError, match="not a real number"):
        evaluate("(-8)**(1/3)", 0)
    with pytest.raises(ExpressionError, match="not finite"):
        parse_expression("epoch")(math.inf)


def test_parse_messages_and_hints() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression("epoch +")
    assert info.value.message == "expression 'epoch +': invalid syntax"
    with pytest.raises(ExpressionError) as info:
        parse_expression("x*2")
    assert info.value.message == "expression 'x*2': unknown name 'x' (allowed: epoch, step, pi, e)"
    with pytest.raises(ExpressionError) as info:
        parse_expression("expp(epoch)")
    assert "unknown function 'expp'" in info.value.message
    assert info.value.hint is not None
    assert "did you mean 'exp'?" in info.value.hint and "sqrt" in info.value.hint
    with pytest.raises(ExpressionError) as info:
        parse_expression("epoc + 1")
    assert info.value.hint == "did you mean 'epoch'?"


# fmt: off
HOSTILE = [
    "9**9**9**9", "10**10**10", "1e308*10", "1+" * 5000 + "1", "(" * 500 + "1" + ")" * 500,
    "(" * 500 + ")" * 500, "2**1000000", "max(*[1])", "-" * 1999 + "1", "2**" * 600 + "2",
    "1+" * 999 + "1", "max(" * 300 + "1" + ")" * 300, "[" * 1000, "not " * 400 + "1",
    "exp(exp(exp(exp(10))))", "1" * MAX_LENGTH, "epoch" + "+epoch" * (MAX_NODES // 2),
]
# fmt: on


def _python_calls(func) -> int:
    """Count the Python-level calls ``func()`` makes (a load-independent cost measure)."""
    import sys

    count = 0

    def profile(frame, event, arg) -> None:
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        func()
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:20])
def test_hostile_inputs_fail_fast(text: str) -> None:
    def attempt() -> None:
        with pytest.raises(ExpressionError) as info:
            evaluate(text, 0)
        assert "\n" not in str(info.value)

    attempt()  # warm-up (lazy imports)
    # refused before any work grows with the input: a fixed budget of calls, not seconds
    assert _python_calls(attempt) < 20_000


def test_length_and_nesting_limits() -> None:
    ok = "1+" * 10 + " " * (MAX_LENGTH - 21) + "1"
    assert len(ok) == MAX_LENGTH and evaluate(ok, 0) == 11.0
    with pytest.raises(ExpressionError, match="too long"):
        parse_expression(ok + " + 1")
    assert evaluate("(" * MAX_DEPTH + "epoch" + ")" * MAX_DEPTH, 4) == 4.0
    with pytest.raises(ExpressionError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_expression("(" * 150 + "epoch" + ")" * 150)
    with pytest.raises(ExpressionError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_expression("-" * 150 + "epoch")


def test_pickle_round_trip() -> None:
    expr = parse_expression("min(1, (epoch+1)/5) * 0.95**epoch")
    clone = pickle.loads(pickle.dumps(expr))
    assert isinstance(clone, Expression) and clone.source == expr.source
    assert clone.variables == expr.variables
    assert [clone(x) for x in EPOCHS] == [expr(x) for x in EPOCHS]
    two = parse_expression("epoch*lr", variables=("epoch", "lr"))
    assert pickle.loads(pickle.dumps(two))(3, 2) == 6.0


def _check_total(text: str) -> None:
    try:
        expr = parse_expression(text)
    except ExpressionError:
        return
    for epoch in (0, 1, 2.5, 100):
        try:
            value = expr(epoch)
        except ExpressionError as exc:
            assert "\n" not in str(exc)
            continue
        assert type(value) is float and math.isfinite(value)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_expression_error(text: str) -> None:
    _check_total(text)


TOKENS = [
    "epoch",
    "0",
    "1",
    "2",
    "9",
    "0.5",
    "1e308",
    "1e-308",
    "pi",
    "e",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "(",
    ")",
    ",",
    "<",
    "<=",
    "==",
    "!=",
    ">",
    "if",
    "else",
    "and",
    "or",
    "not",
    "min(",
    "max(",
    "abs(",
    "exp(",
    "log(",
    "sqrt(",
    "sin(",
    "cos(",
    "floor(",
    "ceil(",
    "__import__",
    ".",
    "[",
    "]",
    "'",
    '"',
    "lambda",
    ":",
    ":=",
    "*",
    "x",
    "__class__",
    "True",
]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(["", " "])), max_size=40))
def test_token_soup_only_raises_expression_error(parts: list[tuple[str, str]]) -> None:
    _check_total("".join(token + gap for token, gap in parts))


def test_step_is_the_same_counter_as_epoch() -> None:
    """`step` names the scheduler-step counter torch passes, exactly like `epoch`."""
    warm = parse_expression("step/100 if step < 100 else 1")
    assert [warm(k) for k in (0, 50, 99, 100, 250)] == [0.0, 0.5, 0.99, 1.0, 1.0]
    both = parse_expression("epoch + step")
    assert both(3) == 6.0
    assert evaluate("0.5**step", 2) == 0.25
    with pytest.raises(ExpressionError, match=r"division by zero at step 4$"):
        parse_expression("1/(step-4)")(4)
    with pytest.raises(ExpressionError, match=r"allowed: epoch, step, pi, e"):
        parse_expression("stpe")
    # an explicit variable list keeps its own names
    with pytest.raises(ExpressionError, match="unknown name 'step'"):
        parse_expression("step", variables=("x",))
