"""Plug-in schedulers (DESIGN §5): ``lrplot module.path:Name`` for classes and factories."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import lrplot
from lrplot import cli
from lrplot.plugins import scheduler_info
from lrplot.spec import make_spec
from tests.conftest import canonical
from tests.plugins_fixture import BROKEN_MODULE, write_broken_module

runner = CliRunner()
FIXTURE = "tests.plugins_fixture"
WARMUP_COSINE = f"{FIXTURE}:WarmupCosine"
RAMP_COSINE = f"{FIXTURE}:RampCosine"
FACTORY = f"{FIXTURE}:warmup_lambda"


def invoke(*args: str):
    return runner.invoke(cli.app, list(args))


def read_lr(path) -> np.ndarray:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[k]) for k in r if k.startswith("lr")] for r in rows])


def read_columns(path) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {name: np.array([float(r[i]) for r in rows[1:]]) for i, name in enumerate(rows[0])}


def assert_clean(result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def test_fixture_package_is_importable():
    import tests.plugins_fixture as fixture

    assert fixture.NOT_A_SCHEDULER == 3


# ------------------------------------------------------------------ classes


def test_class_plugin_kwarg_named_warmup_cli_equals_canonical(tmp_path):
    out = tmp_path / "x.csv"
    result = invoke(WARMUP_COSINE, "--warmup", "5", "--total", "50", "-o", str(out))
    assert_clean(result, 0)
    want = canonical(make_spec(WARMUP_COSINE, {"warmup": 5, "total": 50}))["lr"]
    assert np.array_equal(read_lr(out), want)


def test_class_plugin_kwarg_named_warmup_in_spec_string():
    spec = lrplot.parse_spec(f"{WARMUP_COSINE}:warmup=5,total=50")
    assert spec.kwargs == {"warmup": 5, "total": 50}
    assert spec.warmup == 0


def test_class_plugin_api_equals_canonical():
    spec = make_spec(WARMUP_COSINE, {"warmup": 5, "total": 50})
    got = lrplot.simulate(spec)
    want = canonical(spec)
    assert np.array_equal(got.lr, want["lr"])
    assert np.array_equal(got.momentum, want["momentum"])
    assert got.lr[0, 0] == pytest.approx(0.02) and got.lr[4, 0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("--floor", "0.001", "--epochs", "60"),
        ("--lr", "0.1,0.01", "--steps-per-epoch", "3", "--step-per", "iter"),
    ],
    ids=["defaults", "floor", "groups-iter"],
)
def test_class_plugin_cli_equals_canonical(tmp_path, extra):
    out = tmp_path / "x.csv"
    result = invoke(RAMP_COSINE, "--ramp", "5", "--total", "50", *extra, "-o", str(out))
    assert_clean(result, 0)
    run = dict(zip([a.lstrip("-").replace("-", "_") for a in extra[::2]], extra[1::2], strict=True))
    kwargs = {"ramp": 5, "total": 50}
    if "floor" in run:
        kwargs["floor"] = run.pop("floor")
    spec = make_spec(RAMP_COSINE, kwargs, **run)
    want = canonical(spec)["lr"]
    assert np.array_equal(read_lr(out), want)
    assert np.array_equal(lrplot.simulate(spec).lr, want)


def test_class_plugin_help_lists_kwargs_with_types():
    result = invoke(RAMP_COSINE, "--help")
    assert_clean(result, 0)
    for text in (
        "--ramp",
        "--total",
        "--floor",
        "int (required)",
        "float (default 0.0)",
        "RampCosine",
        "Example",
    ):
        assert text in result.output, text
    assert "--last_epoch" not in result.output  # lrplot supplies it


def test_class_plugin_help_lists_its_warmup_kwarg():
    result = invoke(WARMUP_COSINE, "--help")
    assert_clean(result, 0)
    assert "--total" in result.output and "--floor" in result.output
    assert "int (required)" in result.output


def test_class_plugin_registry_entry():
    info = scheduler_info(RAMP_COSINE)
    assert info.required == ("ramp", "total")
    assert {k.name: k.kind for k in info.cli_kwargs} == {
        "ramp": "int",
        "total": "int",
        "floor": "float",
    }
    assert info.summary.startswith("WarmupCosine with kwarg names")


def test_class_plugin_default_output_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(RAMP_COSINE, "--ramp", "2", "--total", "10")
    assert_clean(result, 0)
    assert (tmp_path / "RampCosine.png").read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------ factories


def test_factory_plugin_cli_equals_canonical(tmp_path):
    out = tmp_path / "f.csv"
    result = invoke(FACTORY, "--decay", "0.8", "--epochs", "20", "-o", str(out))
    assert_clean(result, 0)
    spec = make_spec(FACTORY, {"decay": 0.8}, epochs=20)
    want = canonical(spec)["lr"]
    assert np.array_equal(read_lr(out), want)
    assert np.array_equal(lrplot.simulate(spec).lr, want)
    assert want[0, 0] == pytest.approx(0.1 / 5)  # the factory's default warmup=5


def test_factory_plugin_warmup_kwarg_reaches_the_factory(tmp_path):
    out = tmp_path / "f.csv"
    result = invoke(FACTORY, "--warmup", "3", "--decay", "0.8", "--epochs", "20", "-o", str(out))
    assert_clean(result, 0)
    want = canonical(make_spec(FACTORY, {"warmup": 3, "decay": 0.8}, epochs=20))["lr"]
    assert np.array_equal(read_lr(out), want)


def test_factory_plugin_help_lists_kwargs_with_types():
    result = invoke(FACTORY, "--help")
    assert_clean(result, 0)
    for text in ("--decay", "float (default 0.9)", "int (default 5)", "warmup_lambda"):
        assert text in result.output, text
    assert "--optimizer " in result.output  # the run option, not the factory's first parameter


def test_factory_plugin_api_equals_canonical():
    spec = make_spec(FACTORY, {"warmup": 4, "decay": 0.5}, lr="0.1,0.01", epochs=12)
    got = lrplot.simulate(spec)
    assert np.array_equal(got.lr, canonical(spec)["lr"])
    assert got.lr[3, 1] == pytest.approx(0.01)


def test_plugin_in_compare_and_nested_spec(tmp_path):
    out = tmp_path / "c.csv"
    result = invoke(
        "compare",
        f"{RAMP_COSINE}:ramp=2,total=10",
        "cosine:T_max=10",
        "--epochs",
        "10",
        "-o",
        str(out),
    )
    assert_clean(result, 0)
    cols = read_columns(out)
    label = f"{RAMP_COSINE}:ramp=2,total=10"
    assert list(cols) == ["step", "epoch", label, "cosine:T_max=10"]
    spec = make_spec(RAMP_COSINE, {"ramp": 2, "total": 10}, epochs=10)
    assert np.array_equal(cols[label], canonical(spec)["lr"][:, 0])

    result = invoke(
        "sequential",
        "--schedulers",
        "linear:total_iters=2",
        "--schedulers",
        f"{RAMP_COSINE}:ramp=2,total=8",
        "--milestones",
        "2",
        "-o",
        str(tmp_path / "s.csv"),
    )
    assert_clean(result, 0)
    spec = make_spec(
        "sequential",
        {
            "schedulers": ["linear:total_iters=2", f"{RAMP_COSINE}:ramp=2,total=8"],
            "milestones": "2",
        },
    )
    assert np.array_equal(read_lr(tmp_path / "s.csv"), canonical(spec)["lr"])


# ------------------------------------------------------------------ errors

ERRORS = [
    ([f"{BROKEN_MODULE}:Anything"], f"cannot import '{BROKEN_MODULE}'"),
    ([f"{BROKEN_MODULE}:Anything"], "boom"),
    (["no_such_module_xyz:Thing"], "cannot import"),
    ([f"{FIXTURE}:WarmupCosin"], "did you mean WarmupCosine"),
    ([f"{FIXTURE}:NOT_A_SCHEDULER"], "not a scheduler"),
    ([f"{FIXTURE}:not_a_factory", "-o", "x.csv"], "did not return an LR scheduler"),
    ([RAMP_COSINE, "--total", "50"], "needs ramp"),
    ([RAMP_COSINE], "needs ramp, total"),
    ([RAMP_COSINE, "--ramp", "5", "--total", "50", "--bogus", "3"], "--bogus"),
    ([RAMP_COSINE, "--ramp", "5", "--total", "50", "--totl", "3"], "--total"),
    ([RAMP_COSINE, "--ramp", "x", "--total", "50"], "expects an integer"),
    ([RAMP_COSINE, "--ramp", "5", "--total", "50", "--floor", "nan"], "finite"),
    ([FACTORY, "--decay", "fast"], "expects a number"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_plugin_errors_exit_2_with_message(args, message, tmp_path, monkeypatch):
    modules = tmp_path / "modules"
    modules.mkdir()
    write_broken_module(modules)
    monkeypatch.syspath_prepend(str(modules))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke(*args)
    assert_clean(result, 2)
    assert message in result.output
    assert not list(work.iterdir())  # nothing written


def test_plugin_errors_in_check_group():
    result = invoke("check", f"{FIXTURE}:NOT_A_SCHEDULER")
    assert_clean(result, 2)
    assert "not a scheduler" in result.output


def test_not_a_scheduler_factory_error_is_one_line():
    result = invoke(f"{FIXTURE}:not_a_factory", "-o", "-")
    assert_clean(result, 2)
    assert len(result.output.strip().splitlines()) <= 2, result.output
    assert "dict" in result.output


def test_factory_on_another_optimizer_is_refused():
    result = invoke(f"{FIXTURE}:other_optimizer", "-o", "-")
    assert_clean(result, 2)
    assert "other_optimizer" in result.output


def test_plugin_constructor_error_is_reported_without_traceback():
    result = invoke(f"{FIXTURE}:RaisesInInit", "-o", "-")
    assert_clean(result, 1)
    assert "constructor exploded" in result.output


def test_yaml_style_spec_needs_no_import_for_builtins():
    # parse_spec of a built-in never treats "cosine:T_max=5" as module:Name.
    spec = lrplot.parse_spec("cosine:T_max=5")
    assert spec.scheduler == "cosine" and spec.kwargs == {"T_max": 5}


# ------------------------------------------------------------------ Python API


def test_api_lambda_list_per_group_equals_canonical():
    spec = make_spec("lambda", {"lr_lambda": [lambda e: 0.9**e, lambda e: 1.0]}, lr="0.1,0.01")
    got = lrplot.simulate(spec)
    want = canonical(spec)
    assert got.lr.shape == (100, 2)
    assert np.array_equal(got.lr, want["lr"])
    assert np.array_equal(got.momentum, want["momentum"])
    assert got.lr[2, 0] == pytest.approx(0.1 * 0.81) and np.all(got.lr[:, 1] == 0.01)


def test_api_plateau_numpy_metric_equals_canonical():
    metric = np.array([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
    spec = make_spec("plateau", {"patience": 2, "factor": 0.5}, metric=metric, epochs=12)
    got = lrplot.simulate(spec)
    want = canonical(spec)
    assert np.array_equal(got.lr, want["lr"])
    assert np.array_equal(got.metric, metric)
    assert got.lr[-1, 0] < 0.1


def test_api_plateau_numpy_metric_shorter_than_run_repeats_last():
    spec = make_spec(
        "plateau", {"patience": 1}, metric=np.array([1.0, 0.5]), epochs=6, steps_per_epoch=2
    )
    got = lrplot.simulate(spec)
    assert np.array_equal(got.lr, canonical(spec)["lr"])
    assert got.metric.tolist() == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


# ------------------------------------------------------------------ traits by class, not name

SAME_NAME = f"{FIXTURE}:CosineAnnealingLR"


def test_same_named_class_gets_no_torch_traits_and_equals_canonical(tmp_path):
    from lrplot.registry import NO_TRAITS

    info = scheduler_info(SAME_NAME)
    assert info.cls == "CosineAnnealingLR" and info.traits is NO_TRAITS
    assert [k.name for k in info.kwargs] == ["length", "end"]
    out = tmp_path / "x.csv"
    result = invoke(SAME_NAME, "--length", "40", "--end", "0.01", "--epochs", "60", "-o", str(out))
    assert_clean(result, 0)
    want = canonical(make_spec(SAME_NAME, {"length": 40, "end": 0.01}, epochs=60))["lr"]
    np.testing.assert_array_equal(read_lr(out), want)
    # no torch-only diagnostic (the cosine climbs-back check would name T_max) and no events
    assert "T_max" not in result.output and "climbs back" not in result.output
    schedule = lrplot.simulate(make_spec(SAME_NAME, {"length": 40}, epochs=60))
    assert schedule.events == []


def test_same_named_class_check_passes_without_torch_diagnostics():
    result = invoke("check", SAME_NAME, "--length", "10", "--epochs", "100")
    assert "T_max" not in result.output


def test_real_subclass_gets_the_torch_family_traits():
    from lrplot.registry import TORCH_TRAITS

    sub = scheduler_info(f"{FIXTURE}:TorchCosineSubclass")
    assert sub.traits is TORCH_TRAITS["CosineAnnealingLR"]
    result = invoke("check", f"{FIXTURE}:TorchCosineSubclass", "--T_max", "20", "--epochs", "150")
    assert result.exit_code == 1 and "climbs back up" in result.output


@pytest.mark.parametrize(
    ("target", "package"),
    [
        ("ignite.handlers:CosineAnnealingScheduler", "pytorch-ignite"),
        ("transformers.optimization:get_cosine_schedule_with_warmup", "transformers"),
        ("deepspeed.runtime.lr_schedules:WarmupLR", "deepspeed"),
    ],
)
def test_a_missing_framework_names_its_pip_package(monkeypatch, target, package):
    monkeypatch.setitem(sys.modules, target.partition(".")[0], None)  # as if not installed
    result = runner.invoke(cli.app, [target, "--help"])
    assert result.exit_code == 2, result.output
    assert f"hint: pip install {package} (README: Frameworks)" in result.output


def test_the_readme_plugin_example_runs_from_examples(tmp_path, monkeypatch):
    """README's own-class example: ``cd examples && lrplot my_schedules:WarmupCosine ...``."""
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    lines = [
        line.partition("&&")[2].strip()
        for line in (root / "README.md").read_text(encoding="utf-8").splitlines()
        if "cd examples && lrplot my_schedules:" in line
    ]
    assert lines
    monkeypatch.chdir(root / "examples")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for line in lines:
        out = tmp_path / "wc.csv"
        result = runner.invoke(cli.app, [*shlex.split(line)[1:], "-o", str(out)])
        assert result.exit_code == 0 and "⚠" not in result.output, (line, result.output)
        lr = [float(row["lr"]) for row in csv.DictReader(out.open())]
        assert lr[0] == pytest.approx(0.1 / 5) and max(lr) == pytest.approx(0.1)
    sys.modules.pop("my_schedules", None)
