"""Resume check: lrplot's resumed runs against a real training script that resumes.

``script`` below is written independently of lrplot: a real model, real gradients, a real
``optimizer.step()``, a checkpoint file written with ``torch.save`` and read back with
``torch.load``, and the resuming script's own construction order. Its lr record (a step
pre-hook) must equal lrplot's rows for every way of resuming; then the findings must
name what each way does (issue 13).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lrplot import cli, pipeline
from lrplot.engine import simulate
from lrplot.engine.resume import STYLES, resume_runs
from lrplot.errors import UsageError
from lrplot.options import DisplayOptions, ResumeOptions, RunOptions
from lrplot.resume import check
from lrplot.spec import coerce_spec

runner = CliRunner()


def _train(model: Any, optimizer: Any) -> None:
    import torch

    x = torch.randn(8, 4)
    loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def script(
    build: Callable[..., Any],
    total: int,
    at: int,
    style: str,
    tmp_path: Any,
    steps_per_epoch: int = 1,
    per_epoch: bool = False,
) -> np.ndarray:
    """Train ``at`` steps, save a checkpoint file, resume ``style`` in new objects, finish."""
    import torch

    rows: list[float] = []

    def fresh() -> tuple[Any, Any]:
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        opt.register_step_pre_hook(lambda o, a, k: rows.append(o.param_groups[0]["lr"]))
        return model, opt

    def loop(model: Any, opt: Any, sched: Any, start: int, stop: int) -> None:
        for i in range(start, stop):
            _train(model, opt)
            if not per_epoch or (i + 1) % steps_per_epoch == 0:
                sched.step()

    model, opt = fresh()
    sched = build(opt)
    loop(model, opt, sched, 0, at)
    path = tmp_path / "ckpt.pt"
    torch.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "sched": sched.state_dict()},
        path,
    )
    del model, opt, sched
    ckpt = torch.load(path, weights_only=True)
    model, opt = fresh()
    model.load_state_dict(ckpt["model"])
    if style == "state-dict":
        sched = build(opt)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["sched"])
    elif style == "optimizer-first":
        opt.load_state_dict(ckpt["optimizer"])
        sched = build(opt)
        sched.load_state_dict(ckpt["sched"])
    elif style == "last-epoch":
        opt.load_state_dict(ckpt["optimizer"])
        done = at // steps_per_epoch if per_epoch else at
        sched = build(opt, last_epoch=done - 1)
    else:
        opt.load_state_dict(ckpt["optimizer"])
        sched = build(opt)
    loop(model, opt, sched, at, total)
    return np.asarray(rows)


def _torch() -> Any:
    from torch.optim import lr_scheduler

    return lr_scheduler


CASES = [
    (
        "step:step_size=4,gamma=0.5",
        dict(epochs=20),
        lambda o, **k: _torch().StepLR(o, 4, 0.5, **k),
        False,
    ),
    (
        "onecycle:max_lr=0.1",
        dict(epochs=4, steps_per_epoch=5),
        lambda o, **k: _torch().OneCycleLR(o, max_lr=0.1, epochs=4, steps_per_epoch=5, **k),
        False,
    ),
    (
        "cosine:T_max=16",
        dict(epochs=20, warmup=4, warmup_start_factor=0.1),
        lambda o, **k: _torch().SequentialLR(
            o,
            [_torch().LinearLR(o, 0.1, total_iters=4), _torch().CosineAnnealingLR(o, T_max=16)],
            [4],
            **k,
        ),
        False,
    ),
    (
        "multistep:milestones=[3,5],gamma=0.5",
        dict(epochs=6, steps_per_epoch=3),
        lambda o, **k: _torch().MultiStepLR(o, [3, 5], 0.5, **k),
        True,
    ),
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("text,run,build,per_epoch", CASES, ids=[c[0] for c in CASES])
def test_resumed_rows_equal_a_resuming_script(text, run, build, per_epoch, style, tmp_path):
    spec = coerce_spec(text, **run)
    n = simulate(spec).n
    spe = run.get("steps_per_epoch", 1)
    for at in (4, 10) if n > 10 else (4, 7):
        got = resume_runs(spec, [at], [style]).runs[0]
        want = script(build, n, at, style, tmp_path, spe, per_epoch)
        assert got.error is None and got.skipped is None
        np.testing.assert_allclose(got.lr[:, 0], want, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "text,run",
    [
        ("step:step_size=4,gamma=0.5", dict(epochs=20)),
        ("onecycle:max_lr=0.1", dict(epochs=4, steps_per_epoch=5)),
        ("cosine:T_max=16", dict(epochs=20, warmup=4)),
        ("cosine:T_max=10", dict(epochs=3, steps_per_epoch=7, step_per="iter")),
        (
            "sequential:schedulers=['linear:start_factor=0.1,total_iters=3','exp:gamma=0.8']"
            ",milestones=[3]",
            dict(epochs=12),
        ),
        ("cyclic:base_lr=0.01,max_lr=0.1,step_size_up=3", dict(epochs=20)),
        ("lambda:lr_lambda='0.9**epoch'", dict(epochs=12)),
        ("plateau:patience=1", dict(epochs=15, metric="1,0.9,0.9,0.9,0.8,0.8,0.8,0.8")),
        ("tests.plugins_fixture:warmup_then_decay", dict(epochs=20)),
        ("tests.plugins_fixture:WarmupCosine:warmup=3,total=20", dict(epochs=20)),
    ],
)
def test_state_dict_resume_matches_everywhere(text, run):
    spec = coerce_spec(text, **run)
    reference = simulate(spec).lr
    runs = resume_runs(spec, [1, 5, 11], ["state-dict"])
    np.testing.assert_array_equal(runs.reference, reference)  # the same loop as simulate
    for resumed in runs.runs:
        assert resumed.error is None and resumed.skipped is None, resumed
        np.testing.assert_allclose(resumed.lr, reference, rtol=1e-12, atol=0)


def _check(name: str, kwargs: dict[str, str], run: RunOptions, **options: Any) -> Any:
    request = pipeline.schedule_request(name, kwargs, run, DisplayOptions())
    return check(request, ResumeOptions(**options), write=False)


def _by_style(done: Any) -> dict[str, Any]:
    return {f.style: f for f in done.findings}


def test_correct_resumes_pass():
    for name, kwargs, run in [
        ("step", {"step_size": "4", "gamma": "0.5"}, RunOptions(epochs=20)),
        ("onecycle", {"max_lr": "0.1"}, RunOptions(epochs=4, steps_per_epoch=5)),
        ("cosine", {"T_max": "16"}, RunOptions(epochs=20, warmup=4, warmup_start_factor=0.1)),
    ]:
        done = _check(name, kwargs, run, resume_at=[4, 10])
        mine = [f for f in done.findings if f.selected]
        assert [f.status for f in mine] == ["match", "match"], name
        assert not done.failed


def test_warmup_restarts_when_the_scheduler_state_is_not_loaded():
    run = RunOptions(epochs=20, warmup=4, warmup_start_factor=0.1)
    done = _check("cosine", {"T_max": "16"}, run, resume_at=[10], resume_style="no-state")
    found = _by_style(done)["no-state"]
    assert done.failed and found.selected and found.status == "differs"
    assert found.first == 10
    assert found.message.startswith("the schedule restarts at step 10 (the warmup runs again)")
    assert "runs at 0.01 instead of 0.06913" in found.message
    assert "rebuilt without load_state_dict()" in (found.cause or "")
    assert found.fix and "load it after building" in found.fix
    # lrplot's own --warmup and the same SequentialLR written out behave alike
    spelled = _check(
        "sequential",
        {
            "schedulers": ["linear:start_factor=0.1,total_iters=4", "cosine:T_max=16"],
            "milestones": "4",
        },
        RunOptions(epochs=20),
        resume_at=[10],
        resume_style="no-state",
    )
    assert _by_style(spelled)["no-state"].message == found.message


def test_last_epoch_pitfalls_are_named():
    step = _check("step", {"step_size": "4", "gamma": "0.5"}, RunOptions(epochs=20), resume_at=[4])
    found = _by_style(step)["last-epoch"]
    assert found.status == "differs" and not found.selected and not step.failed
    assert found.message.startswith("the change at step 4 is applied twice")
    assert "built with last_epoch=3" in found.notes
    assert any("KeyError: 'initial_lr'" in n for n in found.notes)
    seq = _check(
        "cosine",
        {"T_max": "16"},
        RunOptions(epochs=20, warmup=4, warmup_start_factor=0.1),
        resume_at=[10],
        resume_style="last-epoch",
    )
    found = _by_style(seq)["last-epoch"]
    assert seq.failed and found.first == 10
    # LinearLR's constructor scales the lr by start_factor again, but the warmup does not
    # run again: the cosine goes on from there, about 7x low
    assert "step 10 falls back to the schedule's first lr" in found.message
    assert "restarts" not in found.message and "warmup" not in found.message
    assert found.cause == (
        "SequentialLR built with last_epoch=9 does not rebuild the state an uninterrupted run has"
    )


def test_loading_the_optimizer_first_costs_one_step_of_onecycle():
    done = _check(
        "onecycle", {"max_lr": "0.1"}, RunOptions(epochs=4, steps_per_epoch=5), resume_at=[10]
    )
    found = _by_style(done)["optimizer-first"]
    assert found.status == "differs" and found.first == 10
    assert found.message.startswith("only step 10 differs: it runs at 0.004 (the schedule's")
    assert "constructor overwrote the restored lr" in (found.cause or "")


def test_changed_run_length_keeps_the_old_horizon():
    done = _check(
        "cosine", {"T_max": "20"}, RunOptions(epochs=20), resume_at=[10], resume_epochs=30
    )
    (found,) = done.findings
    assert done.failed and found.style == "changed-length"
    assert [str(c) for c in done.changes] == ["T_max=20 → 30"]
    assert "keeps the checkpoint's horizon" in found.message
    assert found.cause == "load_state_dict() restored T_max=20 over the new run's T_max=30"
    # the kept schedule climbs back after T_max=20 (the rise users see)
    assert found.lr is not None and found.lr[25, 0] > found.lr[20, 0]


def test_changed_run_length_stops_onecycle():
    done = _check(
        "onecycle",
        {"max_lr": "0.1"},
        RunOptions(epochs=4, steps_per_epoch=5),
        resume_at=[10],
        resume_epochs=6,
    )
    (found,) = done.findings
    assert "keeps the checkpoint's horizon" in found.message
    assert "it stops at step 21: ValueError: Tried to step 21 times" in found.message


def test_changed_run_length_switches_a_partial_lambda_with_a_jump():
    done = _check(
        "tests.plugins_fixture:warmup_then_decay",
        {"num_warmup_steps": "2", "num_training_steps": "20"},
        RunOptions(epochs=20),
        resume_at=[10],
        resume_epochs=30,
    )
    (found,) = done.findings
    assert [str(c) for c in done.changes] == ["num_training_steps=20 → 30"]
    assert "switches to the new schedule (num_training_steps=30) at step 11" in found.message
    assert "after 0.05556 at step 10 (the old schedule's, restored with the optimizer)" in (
        found.message
    )
    assert "step 11 runs at 0.06786, a jump of +0.0123" in found.message
    assert "functools.partial whose arguments state_dict() does not keep" in (found.cause or "")


def test_changed_run_length_is_harmless_without_a_horizon():
    done = _check(
        "step", {"step_size": "4"}, RunOptions(epochs=20), resume_at=[10], resume_epochs=30
    )
    assert not done.failed and done.findings[0].status == "match"
    assert "nothing in StepLR's kwargs depends on the run length" in done.findings[0].message


def test_a_plugin_without_state_dict_gets_a_statement():
    done = _check("tests.plugins_fixture:Stepper", {}, RunOptions(epochs=10), resume_at=[4])
    found = _by_style(done)
    assert found["state-dict"].status == "skipped"
    assert "Stepper has no usable state_dict()" in found["state-dict"].message
    assert (
        found["last-epoch"].status == "skipped" and "resume counter" in found["last-epoch"].message
    )
    assert found["no-state"].status in ("match", "differs")
    assert done.failed  # the script's way (state-dict) cannot resume it


def test_resume_points_are_checked():
    with pytest.raises(UsageError, match="outside the run"):
        _check("cosine", {"T_max": "10"}, RunOptions(epochs=10), resume_at=[10])
    with pytest.raises(UsageError, match="needs --resume-at"):
        _check("cosine", {"T_max": "10"}, RunOptions(epochs=10), resume_epochs=20)


# ------------------------------------------------------------------ command line


def invoke(*args: str) -> Any:
    return runner.invoke(cli.app, list(args), catch_exceptions=False)


def test_cli_passes_a_correct_resume_and_writes_both_curves(tmp_path):
    png, data = tmp_path / "r.png", tmp_path / "r.json"
    result = invoke(
        "check",
        "cosine",
        "--T_max",
        "16",
        "--epochs",
        "20",
        "--warmup",
        "4",
        "--resume-at",
        "4",
        "--resume-at",
        "10",
        "-o",
        str(png),
        "-o",
        str(data),
    )
    assert result.exit_code == 0, result.output
    assert "✓ state-dict at step 4: the resumed run matches" in result.output
    assert "ℹ no-state at step 10: the schedule restarts at step 10" in result.output
    assert "✓ the schedule survives the resume" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(data.read_text())
    assert saved["failed"] is False
    assert {f["style"] for f in saved["findings"]} == set(STYLES)


def test_cli_exits_1_when_the_scripts_way_differs(tmp_path):
    out = tmp_path / "r.csv"
    result = invoke(
        "check",
        "cosine",
        "--T_max",
        "20",
        "--epochs",
        "20",
        "--resume-at",
        "10",
        "--resume-epochs",
        "30",
        "-o",
        str(out),
    )
    assert result.exit_code == 1, result.output
    assert "⚠ changed-length at step 10" in result.output
    assert "T_max=20 → 30" in result.output
    header = out.read_text().splitlines()[0]
    assert header == "step,epoch,planned for 30 epochs,changed-length@10"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--resume-at", "0"], "--resume-at 0 is outside the run: give a step from 1 to 19"),
        (["--resume-at", "50"], "--resume-at 50 is outside the run"),
        (["--resume-epochs", "30"], "--resume-epochs needs --resume-at"),
        (["--resume-at", "5", "--resume-style", "last_epoch"], "did you mean last-epoch?"),
    ],
)
def test_cli_usage_errors_exit_2(args, message):
    result = invoke("check", "cosine", "--T_max", "20", "--epochs", "20", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_styles_are_declared_once():
    from lrplot import resume
    from lrplot.options import option

    assert resume.STYLES == STYLES == option("resume_style").choices
