"""Binding, introspection, stepping protocols and help for plug-ins (no framework needed).

The framework families themselves are tested against their own training loops in
``tests/frameworks`` (``make test-frameworks``).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import lrplot
from lrplot import cli, docstrings, registry
from lrplot.diagnose import diagnose
from lrplot.engine import simulate
from lrplot.engine.protocols import TorchProtocol, protocol_for
from lrplot.errors import UsageError
from lrplot.plugins import scheduler_info
from lrplot.schedule import Schedule
from lrplot.spec import make_spec
from tests.conftest import canonical

runner = CliRunner()
FIXTURE = "tests.plugins_fixture"


def invoke(*args: str, columns: int = 200):
    return runner.invoke(cli.app, list(args), env={"COLUMNS": str(columns)})


# ------------------------------------------------------------------ binding


def test_args_kwargs_resolved_through_the_mro():
    info = scheduler_info(f"{FIXTURE}:Scaled")
    assert [k.name for k in info.kwargs] == ["rate", "hold", "floor"]
    assert not info.extra_kwargs and info.optimizer_arg == "optimizer"
    spec = make_spec(f"{FIXTURE}:Scaled", {"rate": "0.5", "hold": "2", "floor": "0.01"}, epochs=12)
    assert np.array_equal(simulate(spec).lr, canonical(spec)["lr"])
    assert simulate(spec).lr[:, 0].tolist()[:5] == [0.1, 0.1, 0.1, 0.05, 0.025]


def test_optimizer_bound_by_name_when_not_first():
    info = scheduler_info(f"{FIXTURE}:scheduler_by_name")
    assert info.optimizer_arg == "optimizer" and not info.optimizer_positional
    assert [k.name for k in info.kwargs] == ["name", "steps"]
    out = simulate(make_spec(f"{FIXTURE}:scheduler_by_name", {"name": "linear"}, epochs=10))
    assert out.lr[0, 0] == pytest.approx(0.1) and out.lr[-1, 0] < 0.02


def test_kwargs_function_takes_any_key_typed_by_literal(tmp_path):
    info = scheduler_info(f"{FIXTURE}:plateau_factory")
    assert info.extra_kwargs and info.kwargs == ()
    out = tmp_path / "p.csv"
    result = invoke(
        f"{FIXTURE}:plateau_factory",
        "--patience",
        "0",
        "--factor=0.5",
        "--metric",
        "1,1,1,1",
        "--epochs",
        "4",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    lr = np.loadtxt(out, delimiter=",", skiprows=1)[:, 2]
    assert lr.tolist() == [0.1, 0.1, 0.05, 0.025]  # plateau found by isinstance, not name
    assert "reduced the lr" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--patience"], "needs a value"), (["patience", "3"], "expected --KEY VALUE")],
)
def test_kwargs_function_bad_words_exit_2(extra, message):
    result = invoke(f"{FIXTURE}:plateau_factory", "--epochs", "3", *extra)
    assert result.exit_code == 2 and message in result.output, result.output


def test_literal_kwarg_and_its_command_round_trip(tmp_path):
    spec = make_spec(f"{FIXTURE}:configured", {"settings": "{'gamma': 0.5}"}, epochs=3)
    assert spec.kwargs["settings"] == {"gamma": 0.5}
    assert simulate(spec).lr[:, 0].tolist() == [0.1, 0.05, 0.025]
    command = spec.to_command()
    assert "--settings '{\"gamma\": 0.5}'" in command
    import shlex

    words = shlex.split(command)[1:]
    out = tmp_path / "c.csv"
    assert invoke(*words, "-o", str(out)).exit_code == 0
    with pytest.raises(UsageError, match="Python literal"):
        make_spec(f"{FIXTURE}:configured", {"settings": "{'gamma': }"})


def test_tuple_return_is_unwrapped():
    out = simulate(make_spec(f"{FIXTURE}:with_extras", {"decay": 0.5}, epochs=3))
    assert out.lr[:, 0].tolist() == [0.1, 0.05, 0.025]


def test_duck_typed_scheduler_is_stepped_like_torch():
    spec = make_spec(f"{FIXTURE}:Stepper", {"drop": 0.5, "every": 2}, epochs=6)
    assert simulate(spec).lr[:, 0].tolist() == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]


def test_optimizer_is_refused_with_a_reason():
    result = invoke("torch.optim:SGD")
    assert result.exit_code == 2
    assert "lrplot cannot show 'torch.optim:SGD'" in result.output
    assert "optimizer.step()" in result.output and "Traceback" not in result.output


def test_protocol_chosen_by_what_the_object_is():
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    plateau = protocol_for(torch.optim.lr_scheduler.ReduceLROnPlateau(opt), "epoch")
    assert isinstance(plateau, TorchProtocol) and plateau.metric and plateau.fast
    cosine = protocol_for(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3), "iter")
    assert isinstance(cosine, TorchProtocol) and not cosine.metric
    assert protocol_for(42) is None and protocol_for(opt) is None


# ------------------------------------------------------------------ run length and checks


def test_unknown_plugin_with_default_length_is_warned():
    spec = make_spec(f"{FIXTURE}:Stepper")
    found = diagnose(spec.resolved(), simulate(spec))
    assert "run-length-assumed" in [d.code for d in found]
    given = make_spec(f"{FIXTURE}:Stepper", epochs=100)
    assert "run-length-assumed" not in [d.code for d in diagnose(given, simulate(given))]
    builtin = make_spec("exp", {"gamma": 0.9})
    assert "run-length-assumed" not in [d.code for d in diagnose(builtin, simulate(builtin))]


@pytest.mark.parametrize(
    ("epochs", "horizon", "code"),
    [(10, 20, "run-vs-horizon"), (30, 20, "run-vs-horizon"), (20, 20, None), (10, None, None)],
)
def test_run_vs_horizon(epochs, horizon, code):
    spec = make_spec(
        "linear", {"start_factor": 1.0, "end_factor": 0.5, "total_iters": 3}, epochs=epochs
    )
    schedule = simulate(spec)
    schedule.horizon = horizon  # what a framework's object reports (tests/frameworks)
    codes = [d.code for d in diagnose(spec, schedule) if d.code == "run-vs-horizon"]
    assert codes == ([code] if code else [])


def test_run_vs_horizon_is_silent_when_lrplot_chose_the_length():
    spec = make_spec("cosine", {"T_max": 10})
    schedule = simulate(spec)
    schedule.horizon = 5
    assert "run-vs-horizon" not in [d.code for d in diagnose(spec.resolved(), schedule)]


def test_schedule_horizon_defaults_to_none():
    assert Schedule(lr=np.zeros((2, 1))).horizon is None
    assert simulate("cosine:T_max=5").horizon is None


# ------------------------------------------------------------------ help


@pytest.mark.parametrize("info", registry.SCHEDULERS, ids=lambda i: i.name)
def test_every_builtin_kwarg_is_described_from_torchs_docstring(info):
    docs = docstrings.torch_docs(info.cls)
    result = invoke(info.name, "--help", columns=300)
    assert result.exit_code == 0, result.output
    for kw in info.cli_kwargs:
        assert docs.get(kw.name), (info.cls, kw.name)
        assert docs[kw.name] in " ".join(result.output.split()), (info.cls, kw.name)


def test_builtin_help_lines_say_the_unit():
    text = " ".join(invoke("cosine", "--help", columns=300).output.split())
    assert "Maximum number of iterations. Unit: scheduler steps" in text
    assert "Minimum learning rate. float (default 0.0)." in text  # no "Default: 0." twice


def test_torch_docstrings_are_read_without_importing_torch():
    code = (
        "import sys; from lrplot import docstrings;"
        "assert docstrings.torch_docs('StepLR')['step_size'];"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plugin_help_describes_kwargs_from_docstrings():
    text = " ".join(invoke(f"{FIXTURE}:Scaled", "--help", columns=300).output.split())
    assert "Multiplicative change per scheduler step. float (default 0.9)." in text
    assert "Scheduler steps before the first change. int (default 0)." in text
    assert "The lowest lr. float (default 0.0)." in text
    assert "Exponential decay after a hold, down to a floor. (Scaled)" in text


def test_plugin_summary_is_the_first_sentence():
    assert scheduler_info(f"{FIXTURE}:plateau_factory").summary == (
        "Return torch's ReduceLROnPlateau with any kwargs (a function taking **kwargs)."
    )


@pytest.mark.parametrize("args", [["--help"], ["list"]])
def test_help_and_list_show_two_plugin_examples(args):
    text = " ".join(invoke(*args, columns=300).output.split())
    assert "module.path:Name" in text
    assert "lrplot transformers:get_cosine_schedule_with_warmup" in text
    assert "lrplot timm.scheduler:CosineLRScheduler" in text


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Minimum learning rate. Default: 0.", "Minimum learning rate."),
        ("Period of decay. Defaults to 30.", "Period of decay."),
        ("value at start (default=1.0).", "value at start."),
        (
            "Upper bound. Functionally, it is the amplitude. More.",
            "Upper bound. Functionally, it is the amplitude.",
        ),
    ],
)
def test_describe_params_cleans_defaults(text, want):
    doc = f"Summary.\n\nArgs:\n    x (float): {text}\n"
    assert docstrings.describe_params(doc) == {"x": want}


def test_gallery_skips_entries_whose_package_is_missing(tmp_path):
    config = tmp_path / "fw.yaml"
    config.write_text(
        "entries:\n"
        "  here:\n    scheduler: cosine\n    kwargs: {T_max: 5}\n"
        "  elsewhere:\n    scheduler: no_such_pkg_xyz:Thing\n    requires: [no_such_pkg_xyz]\n"
    )
    result = invoke("gallery", str(config), "--out", str(tmp_path / "g"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "entry 'elsewhere': needs no_such_pkg_xyz, which is not installed here" in result.output
    assert "rendered 1 of 1 entries; 1 skipped" in result.output
    assert (tmp_path / "g" / "here.png").exists()


def test_module_import_chatter_goes_to_stderr(tmp_path, monkeypatch):
    (tmp_path / "chatty_plugin.py").write_text(
        "print('hello from import')\nfrom torch.optim.lr_scheduler import ExponentialLR as Exp\n"
    )
    monkeypatch.chdir(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrplot",
            "chatty_plugin:Exp",
            "--gamma",
            "0.5",
            "--epochs",
            "2",
            "-o",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines()[0] == "step,epoch,lr", done.stdout
    assert "hello from import" in done.stderr
    assert lrplot  # the API module stays importable alongside


def test_help_shows_brackets_of_annotations():
    text = " ".join(invoke("onecycle", "--help", columns=300).output.split())
    assert "float | list[float] (required)" in text
