"""Fuzz the command line with the real grammar: any input ends in exit 0, 1 or 2, never a traceback.

Command lines are built from the registry (every name, alias and class name, typos of them,
``module:Name`` junk), each scheduler's own kwargs plus unknown ones, hostile values, run
options and cheap output options. Every command carries ``--max-steps 5000`` so a huge
horizon is refused instead of simulated.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lrplot import registry
from lrplot.cli import app
from tests.plugins_fixture import BROKEN_MODULE, write_broken_module

runner = CliRunner()
MAX_STEPS = ["--max-steps", "5000"]

# ------------------------------------------------------------------ the grammar

NAMES = registry.names()
#: ``module:Name`` targets that are safe to import (never a random stdlib module).
PLUGIN_JUNK = [
    "no_such_module_xyz:Thing",
    "no.such.pkg:Cls",
    "lrplot:Nope",
    "lrplot.registry:SCHEDULERS",
    "lrplot.registry:REQUIRED",
    "lrplot.spec:make_spec",
    "lrplot.errors:UsageError",
    "math:pi",
    "math:sqrt",
    "json:dumps",
    "collections:OrderedDict",
    "torch.optim.lr_scheduler:LRScheduler",
    "torch.optim.lr_scheduler:StepLR",
    "torch.optim.lr_scheduler:ReduceLROnPlateau",
    "torch.optim:SGD",
    "tests.plugins_fixture:NOT_A_SCHEDULER",
    "tests.plugins_fixture:not_a_factory",
    "tests.plugins_fixture:warmup_lambda",
    "tests.plugins_fixture:RampCosine",
    "tests.plugins_fixture:Missing",
    f"{BROKEN_MODULE}:Anything",
    "cosine:T_max",
    "cosine:",
    ":cosine",
    "a:b:c",
]
SURROGATES = ["\udcff", "\udc80", "\ud800", "x\udcffy"]


@st.composite
def typo(draw: st.DrawFn, words: list[str]) -> str:
    """Return a near miss of one of ``words``: a character dropped or doubled."""
    word = draw(st.sampled_from(words))
    i = draw(st.integers(0, len(word) - 1))
    return word[:i] + word[i + 1 :] if draw(st.booleans()) else word[:i] + word[i] + word[i:]


unicode_text = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=()), max_size=10
)
scheduler_names = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NAMES).map(str.upper),
    typo(NAMES),
    st.sampled_from(PLUGIN_JUNK),
    st.sampled_from(PLUGIN_JUNK),
    st.from_regex(r"tests\.plugins_fixture:[A-Za-z_]\w{0,8}", fullmatch=True),
    st.from_regex(r"nosuchmod_[a-z]{1,6}(\.[a-z]{1,4})?:[A-Za-z_]\w{0,6}", fullmatch=True),
    st.sampled_from(SURROGATES),
    unicode_text.filter(lambda s: s and not s.startswith("-")),
)

special_values = st.sampled_from(
    [
        "0",
        "-0",
        "1",
        "-1",
        "2",
        "0.5",
        "1e-3",
        "1e308",
        "1.5e308",
        "-1e308",
        "1e-400",
        "1e400",
        str(10**30),
        str(-(10**30)),
        "1e3",
        "10.0",
        "1.5",
        " 5 ",
        "0x10",
        "1_000",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "",
        " ",
        ",",
        "1,,2",
        "1,2",
        "0.1,0.01",
        "1,2,3",
        "5,3",
        "3,3,3",
        "[1,2]",
        "true",
        "false",
        "True",
        "yes",
        "none",
        "None",
        "null",
        "cos",
        "linear",
        "min",
        "max",
        "rel",
        "abs",
        "triangular",
        "triangular2",
        "exp_range",
        "iterations",
        "cycle",
    ]
)
expressions = st.sampled_from(
    [
        "0.95**epoch",
        "epoch",
        "1/epoch",
        "1/(1+epoch)",
        "epoch**epoch**epoch",
        "9**9**9**9",
        "0 if epoch < 3 else 1e308*10",
        "log(epoch)",
        "sqrt(-1)",
        "exp(1000)",
        "-1",
        "0",
        "__import__('os')",
        "lambda: 1",
        "epoch.__class__",
        "max()",
        "min(1)",
        "1 if epoch else",
        "(" * 120 + "1" + ")" * 120,
        "epoch" + "+1" * 600,
        "1,0.9,0.9",
        "0.97",
        "nan",
        "inf",
    ]
)
spec_values = st.builds(
    lambda name, key, value: f"{name}:{key}={value}" if key else name,
    st.sampled_from(
        [
            "cosine",
            "linear",
            "exp",
            "step",
            "constant",
            "plateau",
            "lambda",
            "sequential",
            "onecycle",
            "bogus",
            "lrplot:Nope",
        ]
    ),
    st.sampled_from(
        [
            "",
            "T_max",
            "total_iters",
            "gamma",
            "step_size",
            "factor",
            "nope",
            "lr_lambda",
            "epochs",
            "lr",
            "warmup",
        ]
    ),
    st.one_of(st.integers(-2, 12).map(str), special_values, expressions.map(repr)),
)
numbers = st.one_of(
    st.integers(-3, 60).map(str),
    st.integers(-(10**40), 10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
values = st.one_of(
    numbers,
    special_values,
    st.lists(st.one_of(numbers, special_values), min_size=0, max_size=4).map(",".join),
    expressions,
    spec_values,
    unicode_text,
    st.sampled_from(SURROGATES),
)

#: Reasonable values per kwarg kind, so that plenty of examples get as far as torch.
GOOD = {
    "int": st.integers(1, 12).map(str),
    "float": st.sampled_from(["0.1", "0.5", "0.9", "1.0", "0.0", "2", "1e-4"]),
    "floats": st.sampled_from(["0.1", "0.01", "0.1,0.01", "0.5"]),
    "ints": st.sampled_from(["3", "2,5", "3,8,8", "1,2,3"]),
    "bool": st.sampled_from(["true", "false"]),
    "expr": st.sampled_from(["0.95**epoch", "1 if epoch < 3 else 0.1", "0.99"]),
    "specs": st.sampled_from(
        [
            "linear:total_iters=3",
            "cosine:T_max=5",
            "exp:gamma=0.9",
            "constant:factor=0.5,total_iters=2",
        ]
    ),
    "str": st.sampled_from(["x"]),
    "auto": st.sampled_from(["1", "0.5", "true"]),
}


def _known_kwargs(name: str) -> tuple[registry.KwargInfo, ...]:
    info = registry.BY_NAME.get(name.lower())
    return info.cli_kwargs if info else ()


def _good_value(draw: st.DrawFn, kw: registry.KwargInfo) -> str:
    if kw.kind == "choice":
        return draw(st.sampled_from(kw.choices))
    return draw(GOOD[kw.kind])


def _hostile(draw: st.DrawFn) -> bool:
    """Return True for about one element in ten: that element gets a hostile value."""
    return draw(st.integers(0, 9)) == 0


@st.composite
def kwarg_args(draw: st.DrawFn, name: str) -> list[str]:
    """Return ``--KWARG VALUE`` words: mostly good required kwargs, plus hostile ones."""
    known = _known_kwargs(name)
    words: list[str] = []
    for kw in known:
        if kw.required and draw(st.integers(0, 19)):
            repeat = 2 if kw.repeatable and draw(st.booleans()) else 1
            for _ in range(repeat):
                value = draw(values) if _hostile(draw) else _good_value(draw, kw)
                words += [f"--{kw.name}", value]
    for _ in range(draw(st.integers(0, 3))):
        if known and not _hostile(draw):
            kw = draw(st.sampled_from(known))
            key = kw.name
            value = draw(values) if _hostile(draw) else _good_value(draw, kw)
        else:
            key = draw(
                st.one_of(
                    typo([k.name for k in known] or ["T_max"]),
                    st.from_regex(r"[A-Za-z_][\w-]{0,10}", fullmatch=True),
                    st.sampled_from(
                        [
                            "epochs",
                            "steps_per_epoch",
                            "optimizer",
                            "last_epoch",
                            "verbose",
                            "T_max",
                            "lr",
                            "help-me",
                        ]
                    ),
                )
            )
            value = draw(values)
        words += [f"--{key}", value]
    return words


@st.composite
def run_args(draw: st.DrawFn, full: bool = True) -> list[str]:
    """Return run options: small epochs and steps per epoch, junk now and then."""

    def pick(good: st.SearchStrategy[str], bad: st.SearchStrategy[str] = values) -> str:
        return draw(bad) if _hostile(draw) else draw(good)

    words: list[str] = []
    if draw(st.integers(0, 4)):
        words += [
            "--epochs",
            pick(st.integers(1, 50).map(str), st.integers(-2, 0).map(str) | special_values),
        ]
    if draw(st.booleans()):
        words += [
            "--steps-per-epoch",
            pick(st.integers(1, 5).map(str), st.just("0") | special_values),
        ]
    if draw(st.booleans()):
        words += ["--lr", pick(st.sampled_from(["0.1", "0.1,0.01", "1", "0.5,0.1,0.01"]))]
    if draw(st.integers(0, 3)) == 0:
        words += [
            "--step-per",
            pick(st.sampled_from(["epoch", "iter"]), st.sampled_from(["batch", "", "EPOCH"])),
        ]
    if draw(st.integers(0, 3)) == 0:
        words += [
            "--optimizer",
            pick(
                st.sampled_from(["sgd", "adam", "adamw", "ADAM"]),
                st.sampled_from(["adma", "", "rmsprop"]),
            ),
        ]
    if full and draw(st.integers(0, 3)) == 0:
        words += ["--warmup", pick(st.integers(0, 8).map(str), special_values)]
        if draw(st.booleans()):
            words += [
                "--warmup-start-factor",
                pick(st.sampled_from(["0.1", "1", "0.5"]), special_values | numbers),
            ]
    if full and draw(st.integers(0, 3)) == 0:
        words += [
            "--metric",
            pick(
                st.sampled_from(["1,0.9,0.9", "1/(1+epoch)", "1", "0.5 + 0.1*sin(epoch)"]),
                expressions
                | special_values
                | unicode_text
                | st.sampled_from(["@missing.csv", "@missing.csv:loss", "@", "@:"]),
            ),
        ]
    if draw(st.integers(0, 19)) == 0:
        words += [draw(st.sampled_from(["--bogus", "--T_max", "-x", "--lr=", "--epochs=3"]))]
    return words


@st.composite
def output_args(draw: st.DrawFn, csv_path: str) -> list[str]:
    """Return ``-o <tmp>/x.csv`` or ``-o -``, maybe with ``--table``."""
    words = ["-o", draw(st.sampled_from([csv_path, "-"]))]
    if draw(st.booleans()):
        words.append("--table")
        if draw(st.booleans()):
            words += ["--every", draw(st.sampled_from(["1", "7", "3", "0", "x"]))]
    return words


GOOD_SPECS = [
    "cosine:T_max=10",
    "step:step_size=3",
    "linear:epochs=5",
    "plateau:patience=2",
    "exp:gamma=0.9,lr=0.5",
    "onecycle:max_lr=0.1",
    "lambda:lr_lambda='0.9**epoch'",
    "sequential:schedulers=['linear:total_iters=2','cosine:T_max=5'],milestones=[2]",
    "multistep:milestones=[2,4],gamma=0.5",
    "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=3",
]


@st.composite
def command_lines(draw: st.DrawFn, csv_path: str) -> list[str]:
    """Return a whole command line: a scheduler command, ``check`` or ``compare``."""
    mode = draw(st.sampled_from(["plot"] * 6 + ["check", "compare"]))
    if mode == "compare":
        specs = draw(
            st.lists(
                st.sampled_from(GOOD_SPECS) | spec_values,
                min_size=1,
                max_size=4,
            )
        )
        return [
            "compare",
            *specs,
            *draw(run_args(full=False)),
            *MAX_STEPS,
            *draw(output_args(csv_path)),
        ]
    good_name = st.sampled_from(NAMES) | st.sampled_from(NAMES).map(str.upper)
    name = draw(scheduler_names if draw(st.integers(0, 3)) == 0 else good_name)
    groups = [draw(kwarg_args(name)), draw(run_args())]
    if mode == "plot":
        groups.append(draw(output_args(csv_path)))
    words = [w for group in draw(st.permutations(groups)) for w in group]
    return ([] if mode == "plot" else ["check"]) + [name, *words, *MAX_STEPS]


# ------------------------------------------------------------------ the property


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "x.csv"


@pytest.fixture(scope="module")
def broken_module_on_path(tmp_path_factory):
    """Put a module whose import raises on ``sys.path`` (one of the ``module:Name`` targets)."""
    directory = tmp_path_factory.mktemp("modules")
    write_broken_module(directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(directory))
        yield


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_command_line_exits_cleanly(data, csv_path, broken_module_on_path):
    args = data.draw(command_lines(str(csv_path)), label="args")
    csv_path.unlink(missing_ok=True)
    result = runner.invoke(app, args)
    shown = f"args={args!r}\nexit={result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert result.exit_code in (0, 1, 2), shown
    assert "Traceback" not in result.output, shown
    if result.exit_code != 0:
        assert result.output.strip(), shown
    if result.exit_code == 2:
        assert not csv_path.exists(), "a usage error must write nothing\n" + shown
    if result.exit_code == 0 and str(csv_path) in args:
        with open(csv_path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert header[0] == "step", shown


# ------------------------------------------------------------------ handwritten edges


def invoke(*args: str):
    return runner.invoke(app, list(args))


def lr_column(path: Path, column: str = "lr") -> list[float]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [float(r[column]) for r in rows]


def test_lr_zero_is_refused():
    result = invoke("cosine", "--T_max", "5", "--lr", "0", "-o", "-")
    assert result.exit_code == 2
    assert "positive" in result.output


def test_lr_underflowing_to_zero_is_refused():
    # 1e-400 parses to 0.0: it must be refused like --lr 0, not simulated as a flat 0 curve.
    result = invoke("cosine", "--T_max", "5", "--lr", "1e-400", "-o", "-")
    assert result.exit_code == 2
    assert "positive" in result.output


def test_one_epoch_run(tmp_path):
    out = tmp_path / "one.csv"
    result = invoke("cosine", "--T_max", "10", "--epochs", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert lr_column(out) == [0.1]


def test_t_max_one(tmp_path):
    out = tmp_path / "t1.csv"
    result = invoke("cosine", "--T_max", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    lr = lr_column(out)
    assert lr[0] == 0.1 and len(lr) == 1


def test_t_max_one_longer_run_is_finite(tmp_path):
    out = tmp_path / "t1.csv"
    result = invoke("cosine", "--T_max", "1", "--epochs", "6", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert lr_column(out) == [0.1, 0.0, 0.1, 0.0, 0.1, 0.0]


def test_empty_metric_is_a_usage_error():
    result = invoke("plateau", "--metric", "", "--epochs", "5", "-o", "-")
    assert result.exit_code == 2, result.output
    assert "metric" in result.output.lower() or "expression" in result.output.lower()


def test_metric_file_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("plateau", "--metric", "@missing.csv", "--epochs", "5", "-o", "-")
    assert result.exit_code == 2
    assert "missing.csv" in result.output and "cannot read" in result.output


def test_metric_file_unknown_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.csv").write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.9\n")
    result = invoke("plateau", "--metric", "@file.csv:nope", "--epochs", "5", "-o", "-")
    assert result.exit_code == 2
    assert "no column 'nope'" in result.output


def test_metric_file_column_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.csv").write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.9\n")
    result = invoke(
        "plateau", "--patience", "0", "--metric", "@file.csv:loss", "--epochs", "4", "-o", "out.csv"
    )
    assert result.exit_code == 0, result.output
    assert lr_column(tmp_path / "out.csv", "metric") == [1.0, 0.9, 0.9, 0.9]


def test_lambda_producing_inf_names_the_epoch():
    result = invoke(
        "lambda", "--lr_lambda", "0 if epoch < 3 else 1e308*10", "--epochs", "6", "-o", "-"
    )
    assert result.exit_code == 1, result.output  # valid text that fails at run time
    assert "Traceback" not in result.output
    assert "epoch 3" in result.output, result.output
    assert not result.stdout.startswith("step,")  # nothing on stdout


# ------------------------------------------------------------------ regressions from the fuzz


SURROGATE_CASES = {
    # the CSV writer opens the file as strict UTF-8: a traceback in any locale
    "compare-label-csv": [
        "compare",
        "cosine:T_max=5",
        "exp:gamma=0.9",
        "--label",
        "\udcff",
        "--label",
        "b",
        "-o",
        "{tmp}/lab.csv",
    ],
    # report.summary prints the path as is ('wrote ...'): fails on a strict UTF-8 stdout
    "output-path": ["cosine", "--T_max", "5", "-o", "{tmp}/\udcff.csv"],
    # report.term_plot prints the title as is
    "term-title": ["cosine", "--T_max", "5", "--term", "--title", "\udcff", "-o", "{tmp}/t.csv"],
}


@pytest.mark.parametrize("case", list(SURROGATE_CASES))
def test_surrogates_from_argv_never_crash(tmp_path, case):
    args = [a.replace("{tmp}", str(tmp_path)) for a in SURROGATE_CASES[case]]
    result = invoke(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2)
    assert result.output.strip()


@pytest.mark.parametrize(
    "args",
    [
        ["multistep", "--milestones", "1.5e308", "-o", "-"],
        ["check", "multistep", "--milestones", "1.5e308"],
        ["compare", "multistep:milestones=[1.5e308]", "-o", "-"],
    ],
    ids=["plot", "check", "compare"],
)
def test_huge_milestone_is_refused_cleanly(args):
    result = invoke(*args, *MAX_STEPS)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2
    assert "--max-steps" in result.output


def test_abstract_base_scheduler_plugin_is_reported():
    result = invoke("torch.optim.lr_scheduler:LRScheduler", "-o", "-", *MAX_STEPS)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1
    assert "LRScheduler failed while being built: NotImplementedError" in result.output
    assert "LRScheduler" in result.output


@pytest.mark.parametrize(
    "nested", ["cosine:T_max=5,warmup=3", "cosine:T_max=5,lr=0.5", "cosine:T_max=5,epochs=2"]
)
def test_run_options_in_nested_spec_are_refused(nested):
    result = invoke(
        "sequential",
        "--schedulers",
        nested,
        "--schedulers",
        "exp:gamma=0.9",
        "--milestones",
        "5",
        "--epochs",
        "8",
        "-o",
        "-",
    )
    assert result.exit_code == 2, result.output
    assert nested.rpartition(",")[2].partition("=")[0] in result.output


# ------------------------------------------------------------------ hostile gallery configs

#: canary modules planted for the gallery fuzz: importing one writes a file in the marker
#: directory. No example passes --allow-import, so none may ever be imported.
CANARIES = ("fuzzcanary_cwd", "fuzzcanary_site", "fuzzcanary_pkg.sub")
CANARY_SOURCE = (
    "from pathlib import Path\n"
    "Path({marker!r}, __name__).write_text('imported')\n"
    "def Sched(optimizer, every: int = 2):\n"
    "    from torch.optim.lr_scheduler import LambdaLR\n"
    "    return LambdaLR(optimizer, lambda e: 0.5 ** (e // every))\n"
)
CONTROL = ["\x1b[2J", "\x07", "\r", "\x00", "\u202e", "\x9b", "\n", "\t", "\x7f"]

#: text with control characters that a YAML (JSON) file can hold: renders, must be escaped.
control_text = st.builds(
    lambda a, c, b: a + c + b,
    st.sampled_from(["", "t", "title ", "$x$"]),
    st.sampled_from(["\x1b[2J", "\x07", "\r", "\u202e", "\n", "\t", "\x1b]0;pwn\x07"]),
    st.sampled_from(["", "x", " end"]),
)
hostile_text = st.one_of(
    st.text(max_size=12),
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(max_size=4),
        st.sampled_from(CONTROL),
        st.text(max_size=4),
    ),
    st.sampled_from(["../x", "/etc/passwd", "README", "index", "a" * 150, "", " ", "-x", ".x"]),
)
plugin_names = st.builds(
    lambda mod, pre, post: f"{pre}{mod}:Sched{post}",
    st.sampled_from(CANARIES),
    st.sampled_from(["", " ", "\t", "  "]),
    st.sampled_from(["", ":every=2", ":every = 2", " ", ":every=[2]"]),
)
scheduler_words = st.one_of(
    st.sampled_from(["cosine", "exp", "step", "linear", "constant", "multistep", "plateau"]),
    plugin_names,
    typo(NAMES),
    hostile_text,
)


@st.composite
def spec_strings(draw: st.DrawFn, depth: int = 0) -> str:
    """A SPEC string, maybe a sequential/chained one with nested SPECs in odd quoting."""
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        subs = draw(st.lists(spec_strings(depth + 1), min_size=1, max_size=3))
        quote = draw(st.sampled_from(["'", '"', ""]))
        space = draw(st.sampled_from(["", " ", "\t", "\n "]))
        inner = ",".join(f"{space}{quote}{s}{quote}{space}" for s in subs)
        kind = draw(st.sampled_from(["sequential", "chained"]))
        extra = ",milestones=[2]" if kind == "sequential" and len(subs) == 2 else ""
        return f"{kind}:schedulers=[{inner}]{extra}"
    name = draw(scheduler_words)
    if draw(st.booleans()):
        return name
    key = draw(st.sampled_from(["T_max", "gamma", "step_size", "total_iters", "label", "every"]))
    value = draw(st.one_of(st.integers(1, 6).map(str), hostile_text.map(repr)))
    return f"{name}:{key}={value}"


scheduler_values = st.one_of(scheduler_words, spec_strings())
small_runs = st.fixed_dictionaries(
    {}, optional={"epochs": st.integers(1, 12), "lr": st.sampled_from([0.1, [0.1, 0.01]])}
)


@st.composite
def nested(draw: st.DrawFn) -> list:
    return draw(
        st.lists(
            st.one_of(
                spec_strings(),
                st.fixed_dictionaries({"scheduler": scheduler_values}),
                st.fixed_dictionaries(
                    {"scheduler": scheduler_values, "kwargs": st.fixed_dictionaries({})}
                ),
            ),
            min_size=1,
            max_size=3,
        )
    )


GOOD_ENTRIES = [
    {"scheduler": "exp", "kwargs": {"gamma": 0.9}},
    {"scheduler": "cosine", "kwargs": {"T_max": 6}},
    {"scheduler": "multistep", "kwargs": {"milestones": [2, 4]}},
    {"scheduler": "exp", "sweep": {"gamma": [0.9, 0.5]}},
    {"compare": ["cosine:T_max=5", "exp:gamma=0.8"]},
    {"scheduler": "chained", "kwargs": {"schedulers": ["exp:gamma=0.9", "constant:factor=0.5"]}},
]


@st.composite
def good_entries(draw: st.DrawFn) -> dict:
    """An entry that renders, with hostile text where a config may hold any text."""
    entry = dict(draw(st.sampled_from(GOOD_ENTRIES)))
    entry["epochs"] = draw(st.integers(2, 8))
    if draw(st.booleans()):
        entry["title"] = draw(control_text)
    if draw(st.booleans()):
        entry["description"] = draw(control_text)
    if "compare" in entry and draw(st.booleans()):
        label = draw(control_text)
        entry["compare"] = [
            {"scheduler": "exp", "kwargs": {"gamma": 0.7}, "label": label},
            "cosine:T_max=4",
        ]
    return entry


@st.composite
def gallery_entries(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["schedule", "sweep", "compare", "nested", "junk"]))
    if draw(st.integers(0, 9)) < 6:
        return draw(good_entries())
    entry: dict = dict(draw(small_runs))
    if draw(st.booleans()):
        entry["title"] = draw(hostile_text)
    if draw(st.booleans()):
        entry["description"] = draw(hostile_text)
    if kind == "schedule":
        entry["scheduler"] = draw(scheduler_values)
        if draw(st.booleans()):
            entry["kwargs"] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "T_max": st.integers(1, 10),
                        "gamma": st.sampled_from([0.9, 0.5]),
                        "milestones": st.lists(st.integers(1, 10), max_size=4),
                    },
                )
            )
    elif kind == "sweep":
        entry["scheduler"] = draw(st.sampled_from(["chained", "sequential", "cosine", "exp"]))
        key = draw(st.sampled_from(["schedulers", "T_max", "gamma", "scheduler", "epochs"]))
        values = draw(
            st.lists(
                st.one_of(scheduler_values, nested(), st.integers(1, 8)), min_size=1, max_size=4
            )
        )
        entry["sweep"] = {key: values}
    elif kind == "compare":
        entry["compare"] = draw(
            st.lists(
                st.one_of(
                    spec_strings(),
                    st.fixed_dictionaries(
                        {"scheduler": scheduler_values},
                        optional={"label": hostile_text, "epochs": st.integers(1, 8)},
                    ),
                ),
                min_size=1,
                max_size=4,
            )
        )
    elif kind == "nested":
        entry["scheduler"] = draw(st.sampled_from(["sequential", "chained"]))
        entry["kwargs"] = {"schedulers": draw(nested())}
    else:
        return draw(st.one_of(st.none(), st.integers(), hostile_text, st.lists(st.integers())))
    return entry


@st.composite
def gallery_configs(draw: st.DrawFn) -> str:
    """A config as text: JSON (a subset of YAML 1.2), now and then hostile YAML besides."""
    import json

    plain = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
    names = st.integers(0, 6).flatmap(lambda k: hostile_text if k == 0 else plain)
    entries = draw(st.dictionaries(names, gallery_entries(), min_size=1, max_size=4))
    data: dict = {"entries": entries}
    if draw(st.integers(0, 4)) == 0:
        data["defaults"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "epochs": st.integers(1, 10),
                    "scheduler": scheduler_values,
                    "metric": st.sampled_from(["@/dev/zero", "1,0.9", "@missing.csv"]),
                    "formats": st.sampled_from(["png", ["svg", "png"], "gif"]),
                },
            )
        )
    text = json.dumps(data, indent=1)
    extra = draw(
        st.sampled_from(
            [""] * 20
            + [
                "x: &a [1]\ny: *a\n",
                "z: !!python/object/apply:os.system ['touch pwned']\n",
                "w: !custom 1\n",
                "%YAML 1.1\n---\n",
                "[" * 40 + "]" * 40 + "\n",
            ]
        )
    )
    return text if not extra else (extra + text if extra.startswith("%") else text + "\n" + extra)


@pytest.fixture(scope="module")
def canary_dirs(tmp_path_factory):
    """Plant the canaries (the current directory, sys.path, a package) for the module."""
    import sys

    root = tmp_path_factory.mktemp("gallery-fuzz")
    marker, site, work = root / "markers", root / "site", root / "work"
    for d in (marker, site, work, site / "fuzzcanary_pkg"):
        d.mkdir()
    source = CANARY_SOURCE.format(marker=str(marker))
    (work / "fuzzcanary_cwd.py").write_text(source)
    (site / "fuzzcanary_site.py").write_text(source)
    (site / "fuzzcanary_pkg" / "__init__.py").write_text(source)
    (site / "fuzzcanary_pkg" / "sub.py").write_text(source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "path", [str(site), *sys.path])
        yield root, marker, work


def _tree(directory: Path, *skip: Path) -> dict[str, tuple[int, int] | str]:
    """Every path under ``directory`` but ``skip``: a file's mtime and size, else "dir"."""
    return {
        str(p): (p.stat().st_mtime_ns, p.stat().st_size) if p.is_file() else "dir"
        for p in directory.rglob("*")
        if not any(s == p or s in p.parents for s in skip) and not p.is_symlink()
    }


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_any_gallery_config_imports_nothing_and_touches_only_dir(data, canary_dirs, monkeypatch):
    import json
    import tempfile

    root, marker, work = canary_dirs
    text = data.draw(gallery_configs(), label="config")
    check = data.draw(st.booleans(), label="check")
    monkeypatch.chdir(work)
    private_tmp = root / "tmp"
    private_tmp.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    config, out = work / "cfg.yaml", work / "site"
    config.write_text(text, encoding="utf-8")
    before = _tree(root, out, private_tmp)
    args = ["gallery", str(config), "--out", str(out), "--format", "png", "--jobs", "1"]
    result = runner.invoke(app, args + ["--check"] * check)
    event(f"exit {result.exit_code}")
    rendered = re.search(r"rendered (\d+) of", result.output)
    event("rendered some" if rendered and rendered.group(1) != "0" else "rendered none")
    shown = f"config={text!r}\nexit={result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert result.exit_code in (0, 1, 2), shown
    assert "Traceback" not in result.output, shown
    assert not any(c in result.output for c in "\x1b\x07\x00\u202e\x9b"), shown
    assert list(marker.iterdir()) == [], "a canary was imported\n" + shown
    assert list(private_tmp.iterdir()) == [], "a staging directory was left\n" + shown
    after = _tree(root, out, private_tmp)
    assert after == before, "a file outside DIR changed\n" + shown
    if out.exists():
        manifest = out / ".lrplot-gallery.json"
        owned = set(json.loads(manifest.read_text())["files"]) if manifest.exists() else set()
        for path in out.iterdir():
            assert path.name == manifest.name or path.name in owned, path.name + "\n" + shown
            if path.suffix in (".md", ".html"):
                body = path.read_text(encoding="utf-8")
                assert not any(c in body for c in "\x1b\x07\x00\u202e\x9b"), shown
