"""Tests for the pitfall checks in ``lrplot.diagnose``: real runs that trigger each check,
close runs that must not, and sensible runs that stay clean."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lrplot import registry
from lrplot.diagnose import CHECKS, Diagnostic, diagnose
from lrplot.engine import simulate
from lrplot.errors import UsageError
from lrplot.schedule import Schedule
from lrplot.spec import ScheduleSpec, parse_spec

ITER20 = {"steps_per_epoch": 20, "step_per": "iter"}


def run(text: str, **options: Any) -> tuple[ScheduleSpec, Schedule, list[Diagnostic]]:
    """Resolve and simulate a SPEC string, then diagnose it."""
    spec = parse_spec(text, **options).resolved()
    schedule = simulate(spec)
    return spec, schedule, diagnose(spec, schedule)


def by_code(found: list[Diagnostic], code: str) -> list[Diagnostic]:
    """Return the diagnostics with one code."""
    return [d for d in found if d.code == code]


# (code, level, SPEC, run options, substrings of the message, substrings of the fix)
TRIGGERS: list[tuple[str, str, str, dict[str, Any], list[str], list[str]]] = [
    (
        "cosine-short-tmax",
        "warning",
        "cosine:T_max=20",
        {"epochs": 150},
        ["T_max=20", "150 epochs", "climbs back up 4 times"],
        ["--T_max 150"],
    ),
    (
        "cosine-short-tmax",
        "warning",
        "cosine:T_max=20",
        {"epochs": 150, "warmup": 10},
        ["T_max=20", "140 epochs", "10-epoch warmup", "3 times"],
        ["--T_max 140"],
    ),
    (
        "cosine-short-tmax",
        "warning",
        "cosine:T_max=20",
        {"epochs": 30, "steps_per_epoch": 4},
        ["T_max=20", "30 epochs", "once"],
        ["--T_max 30"],
    ),
    (
        "cosine-short-tmax",
        "warning",
        "sequential:schedulers=['linear:total_iters=5','cosine:T_max=20'],milestones=[5]",
        {"epochs": 60},
        ["T_max=20", "55 epochs", "milestone at 5", "once"],
        ["T_max=55"],
    ),
    (
        "horizon-unit-mismatch",
        "warning",
        "cosine:T_max=150",
        {"epochs": 150, **ITER20},
        ["T_max=150", "20 per epoch", "3000", "5% of the run"],
        ["--step-per epoch", "--T_max 3000"],
    ),
    (
        "horizon-unit-mismatch",
        "warning",
        "cosine:T_max=10000",
        {"epochs": 100},
        ["T_max=10000", "100 epochs", "only 1%"],
        ["--T_max 100"],
    ),
    (
        "horizon-unit-mismatch",
        "warning",
        "onecycle:max_lr=0.1,total_steps=1000",
        {"epochs": 50, "steps_per_epoch": 20, "step_per": "epoch"},
        ["total_steps=1000", "50 epochs", "5%"],
        ["--step-per iter", "1000 optimizer steps"],
    ),
    (  # issue 10.2: built from the run as a script would, stepped per epoch
        "horizon-unit-mismatch",
        "warning",
        "onecycle:max_lr=0.1",
        {"epochs": 10, "steps_per_epoch": 10, "step_per": "epoch"},
        ["OneCycleLR(epochs=10, steps_per_epoch=10) has 100 steps", "only 10 of them run"],
        ["--step-per iter", "total_steps=10", "--total_steps 10"],
    ),
    (
        "horizon-unit-mismatch",
        "warning",
        "multistep:milestones=[30,80]",
        {"epochs": 100, **ITER20},
        ["milestones=30,80", "first 80 steps", "2000"],
        ["--milestones 600,1600"],
    ),
    (
        "horizon-unit-mismatch",
        "warning",
        "step:step_size=30",
        {"epochs": 90, "steps_per_epoch": 10, "step_per": "iter"},
        ["step_size=30", "every 30 steps, 30 times"],
        ["--step_size 300"],
    ),
    (
        "onecycle-stopped",
        "warning",
        "onecycle:max_lr=0.1,total_steps=50",
        {"epochs": 3, "steps_per_epoch": 20},
        ["OneCycleLR", "step 51 of 60", "crash"],
        ["--total_steps 60"],
    ),
    (
        "milestones-beyond-run",
        "warning",
        "multistep:milestones=[30,120]",
        {"epochs": 100},
        ["milestone 120", "100 epochs", "never happens"],
        ["--epochs 121"],
    ),
    (
        "milestones-beyond-run",
        "warning",
        "multistep:milestones=[130,150]",
        {"epochs": 100},
        ["milestones 130,150", "100 epochs", "never decays"],
        ["--epochs 151"],
    ),
    (
        "milestones-beyond-run",
        "warning",
        "step:step_size=200",
        {"epochs": 100},
        ["step_size=200", "100 epochs", "never decays"],
        ["--step_size 33", "--epochs 201"],
    ),
    (
        "milestones-beyond-run",
        "warning",
        "sequential:schedulers=['linear:total_iters=5','cosine:T_max=95',"
        "'constant:factor=0.1,total_iters=1000'],milestones=[5,150]",
        {"epochs": 100},
        ["milestone 150", "100 epochs", "constant phase never starts"],
        ["--epochs 151"],
    ),
    (
        "warmup-longer-than-run",
        "warning",
        "cosine:T_max=20",
        {"epochs": 30, "warmup": 40},
        ["--warmup 40", "30 epochs", "never starts"],
        ["--warmup 1", "--epochs 41"],
    ),
    (
        "warmup-longer-than-run",
        "warning",
        "cosine:T_max=20",
        {"epochs": 30, "warmup": 30},
        ["--warmup 30", "30 epochs"],
        ["--epochs 31"],
    ),
    (
        "warmup-longer-than-run",
        "warning",
        "linear:total_iters=200",
        {"epochs": 100},
        ["LinearLR total_iters=200", "100 epochs", "never reaches"],
        ["--total_iters 5"],
    ),
    (
        "warmup-longer-than-run",
        "warning",
        "constant:total_iters=200",
        {"epochs": 100},
        ["ConstantLR total_iters=200", "100 epochs"],
        ["--total_iters 5"],
    ),
    (
        "warmup-longer-than-run",
        "warning",
        "chained:schedulers=['linear:total_iters=200','exponential:gamma=0.99']",
        {"epochs": 100},
        ["LinearLR total_iters=200", "100 epochs"],
        ["total_iters=5"],
    ),
    (
        "warmup-longer-than-run",
        "warning",
        "sequential:schedulers=['linear:total_iters=5','cosine:T_max=100'],milestones=[200]",
        {"epochs": 100},
        ["switches to cosine at 200", "100 epochs", "never starts"],
        ["--epochs 201"],
    ),
    (
        "plateau-never-reduced",
        "warning",
        "plateau:patience=200",
        {"epochs": 100},
        ["never reduced", "100 epochs", "patience=200"],
        ["--patience 10"],
    ),
    (
        "plateau-never-reduced",
        "warning",
        "plateau",
        {"epochs": 100, "metric": "1/(1+epoch)"},
        ["never reduced", "100 epochs", "patience=10"],
        ["--patience"],
    ),
    (
        "lr-ends-at-start",
        "warning",
        "exponential:gamma=1",
        {"epochs": 10},
        ["0.1", "no net decay"],
        ["--T_max 10"],
    ),
    (
        "lr-ends-at-start",
        "warning",
        "lambda:lr_lambda='abs(cos(pi*epoch/10))'",
        {"epochs": 11},
        ["ends where it started (0.1)", "no net decay"],
        [],
    ),
    (
        "lr-ends-at-start",
        "info",
        "sgdr:T_0=10",
        {"epochs": 41},
        ["ends where it started (0.1)", "CosineAnnealingWarmRestarts"],
        [],
    ),
    (
        "lr-ends-at-start",
        "info",
        "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=5",
        {"epochs": 21},
        ["ends where it started (0.01)", "CyclicLR"],
        [],
    ),
    (
        "lr-near-zero-long",
        "info",
        "exponential:gamma=0.9",
        {"epochs": 100},
        ["56%", "56 of 100 steps", "under 1% of the peak (0.1)"],
        ["step 44"],
    ),
    (  # issue 10.3
        "metric-shorter-than-run",
        "warning",
        "plateau:patience=1",
        {"metric": "1,0.9,0.9", "epochs": 10},
        ["3 values for a run of 10 epochs", "last 7 epochs repeat", "0.9"],
        ["--epochs 3"],
    ),
    (  # issue 10.5: a plug-in of unknown length, run for lrplot's default
        "run-length-assumed",
        "warning",
        "tests.plugins_fixture:warmup_lambda",
        {},
        ["default of 100 epochs", "no horizon lrplot knows"],
        ["--epochs"],
    ),
]

# (code, SPEC, run options): a close run that must not trigger the check.
HF_STYLE = "tests.plugins_fixture:warmup_then_decay:num_warmup_steps=2,num_training_steps=20"
TRIGGERS += [
    (
        "run-vs-horizon",
        "warning",
        HF_STYLE,
        {"epochs": 10},
        ["stops at optimizer step 10", "ends at step 20", "50%"],
        ["--epochs 20"],
    ),
    (
        "run-vs-horizon",
        "warning",
        HF_STYLE,
        {"epochs": 8, "steps_per_epoch": 4, "step_per": "iter"},
        ["ends at optimizer step 20", "goes on to step 32", "last 12 steps"],
        ["--epochs 5"],
    ),
    (
        "run-length-assumed",
        "warning",
        "tests.plugins_fixture:Stepper",
        {},
        ["no --epochs", "default of 100 epochs", "no horizon lrplot knows"],
        ["--epochs"],
    ),
]

GEOMETRY = {"epochs": 10, "dataset_size": 1000, "batch_size": 5, "step_per": "iter"}
LIGHTNING = {"trainer": "lightning", "batch_size": 2, "step_per": "iter", "epochs": 3}

TRIGGERS += [
    (  # a plain loop: 200 batches, an optimizer step every 4: 50 per epoch, 500 in all
        "schedule-vs-geometry",
        "warning",
        "onecycle:max_lr=0.1,total_steps=2000",
        {**GEOMETRY, "grad_accum": 4},
        ["total_steps=2000 is the run counted without gradient accumulation A=4", "×4", "25%"],
        ["500 optimizer steps (50 per epoch × 10 epochs)"],
    ),
    (  # 2 processes: 100 batches each per epoch; counted for one process: 200
        "schedule-vs-geometry",
        "warning",
        "cosine:T_max=2000",
        {**GEOMETRY, "world_size": 2},
        ["T_max=2000", "for one process, not 2", "1000 times", "×2"],
        ["1000 optimizer steps"],
    ),
    (
        "first-steps-at-zero",
        "info",
        "lambda:lr_lambda='step/10 if step < 10 else 1'",
        {"epochs": 2, **ITER20},
        ["the first optimizer step runs at lr 0"],
        ["above 0"],
    ),
    (
        "first-steps-at-zero",
        "warning",
        "lambda:lr_lambda='max(0, step - 1)/10 if step < 11 else 1'",
        {"epochs": 2, **ITER20},
        ["the first 2 optimizer steps run at lr 0", "update nothing"],
        ["above 0"],
    ),
    (
        "decay-unfinished",
        "warning",
        "cosine:T_max=130",
        {"epochs": 100},
        ["T_max=130 but the run is 100 epochs", "77% done", "of the peak"],
        ["T_max=100", "130 epochs"],
    ),
    (
        "frequency-skips",
        "warning",
        "step:step_size=1,gamma=0.9",
        {**LIGHTNING, "dataset_size": 16, "frequency": 10},
        ["frequency=10", "8 batches", "never steps"],
        ["frequency 4"],
    ),
    (  # 12 batches, the optimizer steps at batches 1, 3, ..., 11; due at 2, 5, 8, 11
        "frequency-skips",
        "warning",
        "step:step_size=1,gamma=0.9",
        {**LIGHTNING, "dataset_size": 24, "frequency": 3, "grad_accum": 2},
        ["frequency=3", "only 2 of the 4 due"],
        ["frequency 6"],
    ),
    (
        "epoch-scheduler-never-steps",
        "warning",
        "step:step_size=1",
        {"epochs": 1, "steps_per_epoch": 10},
        ["StepLR steps once per epoch", "one epoch of 10 steps", "never changes"],
        ["--step-per iter"],
    ),
    (
        "staircase-warmup",
        "info",
        "cosine:T_max=20",
        {"epochs": 23, "steps_per_epoch": 10, "warmup": 3},
        ["--warmup 3 steps once per epoch", "3 stairs of 10 steps"],
        ["--warmup-step-per iter"],
    ),
]

NON_TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("schedule-vs-geometry", "onecycle:max_lr=0.1,total_steps=500", {**GEOMETRY, "grad_accum": 4}),
    ("schedule-vs-geometry", "cosine:T_max=1000", {**GEOMETRY, "world_size": 2}),
    ("first-steps-at-zero", "linear:start_factor=0.01,total_iters=10", {"epochs": 20}),
    ("decay-unfinished", "cosine:T_max=105", {"epochs": 100}),
    ("decay-unfinished", "cosine:T_max=100", {"epochs": 100, "warmup": 5}),
    (
        "frequency-skips",
        "step:step_size=1,gamma=0.9",
        {**LIGHTNING, "dataset_size": 24, "frequency": 2, "grad_accum": 2},
    ),
    ("epoch-scheduler-never-steps", "step:step_size=1", {"epochs": 2, "steps_per_epoch": 10}),
    (
        "staircase-warmup",
        "cosine:T_max=20",
        {"epochs": 21, "steps_per_epoch": 10, "warmup": 30, "warmup_step_per": "iter"},
    ),
    ("run-vs-horizon", HF_STYLE, {"epochs": 20}),
    ("run-vs-horizon", HF_STYLE, {"epochs": 5, "steps_per_epoch": 4, "step_per": "iter"}),
    ("run-vs-horizon", "tests.plugins_fixture:Stepper", {"epochs": 7}),
    ("run-length-assumed", "tests.plugins_fixture:Stepper", {"epochs": 100}),
    ("run-length-assumed", "exp:gamma=0.9", {}),
    ("cosine-short-tmax", "cosine:T_max=150", {"epochs": 150}),
    ("cosine-short-tmax", "cosine:T_max=149", {"epochs": 150}),
    ("cosine-short-tmax", "cosine:T_max=140", {"epochs": 150, "warmup": 10}),
    ("cosine-short-tmax", "cosine:T_max=3000", {"epochs": 150, **ITER20}),
    (
        "cosine-short-tmax",
        "sequential:schedulers=['linear:total_iters=5','cosine:T_max=55'],milestones=[5]",
        {"epochs": 60},
    ),
    ("horizon-unit-mismatch", "cosine:T_max=3000", {"epochs": 150, **ITER20}),
    ("horizon-unit-mismatch", "cosine:T_max=150", {"epochs": 150, "steps_per_epoch": 20}),
    ("horizon-unit-mismatch", "cosine:T_max=150", {"epochs": 100}),
    ("horizon-unit-mismatch", "onecycle:max_lr=0.1", {"epochs": 50, "steps_per_epoch": 20}),
    (
        "horizon-unit-mismatch",
        "onecycle:max_lr=0.1,total_steps=50",
        {"epochs": 50, "steps_per_epoch": 20, "step_per": "epoch"},
    ),
    ("horizon-unit-mismatch", "multistep:milestones=[30,80]", {"epochs": 100}),
    ("horizon-unit-mismatch", "multistep:milestones=[600,1600]", {"epochs": 100, **ITER20}),
    ("horizon-unit-mismatch", "cyclic:base_lr=0.01,max_lr=0.1", {"epochs": 10, **ITER20}),
    (
        "onecycle-stopped",
        "onecycle:max_lr=0.1,total_steps=60",
        {"epochs": 3, "steps_per_epoch": 20},
    ),
    ("onecycle-stopped", "onecycle:max_lr=0.1", {"epochs": 3, "steps_per_epoch": 20}),
    ("milestones-beyond-run", "multistep:milestones=[30,99]", {"epochs": 100}),
    ("milestones-beyond-run", "step:step_size=99", {"epochs": 100}),
    ("milestones-beyond-run", "multistep:milestones=[30,80]", {"epochs": 100, "warmup": 5}),
    ("warmup-longer-than-run", "cosine:T_max=20", {"epochs": 30, "warmup": 10}),
    ("warmup-longer-than-run", "cosine:T_max=1", {"epochs": 30, "warmup": 29}),
    ("warmup-longer-than-run", "linear:total_iters=99", {"epochs": 100}),
    (
        "warmup-longer-than-run",
        "sequential:schedulers=['linear:total_iters=5','cosine:T_max=95'],milestones=[5]",
        {"epochs": 100},
    ),
    ("plateau-never-reduced", "plateau", {"epochs": 100}),
    ("plateau-never-reduced", "plateau", {"epochs": 100, "metric": "1,0.9,0.9"}),
    ("lr-ends-at-start", "exponential:gamma=0.95", {"epochs": 10}),
    ("lr-ends-at-start", "sgdr:T_0=10", {"epochs": 40}),
    ("lr-ends-at-start", "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=5", {"epochs": 20}),
    ("lr-ends-at-start", "plateau:patience=200", {"epochs": 100}),
    ("lr-near-zero-long", "exponential:gamma=0.95", {"epochs": 100}),
    ("lr-near-zero-long", "cosine:T_max=100", {"epochs": 100}),
    ("metric-shorter-than-run", "plateau:patience=1", {"metric": "1,0.9,0.9"}),
    ("metric-shorter-than-run", "plateau:patience=1", {"metric": "1/(1+epoch)", "epochs": 9}),
    ("run-length-assumed", "cosine:T_max=100", {}),
    ("run-length-assumed", "exponential:gamma=0.9", {}),
    ("run-length-assumed", "tests.plugins_fixture:warmup_lambda", {"epochs": 30}),
]

#: sensible runs: not a single diagnostic, not even an info.
CLEAN: list[tuple[str, dict[str, Any]]] = [
    ("cosine:T_max=150", {}),
    ("cosine:T_max=150", {"warmup": 5}),
    ("cosine:T_max=3000,eta_min=1e-5", {"epochs": 150, **ITER20}),
    ("onecycle:max_lr=0.1", {"epochs": 50, "steps_per_epoch": 20}),
    ("onecycle:max_lr=0.1,total_steps=1000", {"epochs": 50, "steps_per_epoch": 20}),
    ("multistep:milestones=[30,80],gamma=0.5", {"epochs": 100}),
    ("step:step_size=30", {}),
    ("sgdr:T_0=10", {}),
    ("cyclic:base_lr=0.001,max_lr=0.1", {}),
    ("poly:total_iters=100", {"epochs": 100}),
    ("sequential:schedulers=['linear:total_iters=5','cosine:T_max=95'],milestones=[5]", {}),
]


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0]}:{case[2] if len(case) > 3 else case[1]}"


@pytest.mark.parametrize(
    ("code", "level", "text", "options", "in_message", "in_fix"),
    TRIGGERS,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(TRIGGERS)],
)
def test_check_fires_with_numbers(
    code: str,
    level: str,
    text: str,
    options: dict[str, Any],
    in_message: list[str],
    in_fix: list[str],
) -> None:
    _, _, found = run(text, **options)
    hits = by_code(found, code)
    assert len(hits) == 1, found
    hit = hits[0]
    assert hit.level == level
    for part in in_message:
        assert part in hit.message, hit.message
    for part in in_fix:
        assert hit.fix is not None and part in hit.fix, hit.fix
    assert "\n" not in hit.message and (hit.fix is None or "\n" not in hit.fix)


@pytest.mark.parametrize(
    ("code", "text", "options"),
    NON_TRIGGERS,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(NON_TRIGGERS)],
)
def test_close_run_does_not_fire(code: str, text: str, options: dict[str, Any]) -> None:
    _, _, found = run(text, **options)
    assert not by_code(found, code), found


@pytest.mark.parametrize(("text", "options"), CLEAN, ids=[c[0] for c in CLEAN])
def test_sensible_run_is_clean(text: str, options: dict[str, Any]) -> None:
    _, _, found = run(text, **options)
    assert found == []


#: checks of framework-only traits (DeepSpeed's warmup_max_lr and warmup_type, the
#: warmup kwargs of transformers, timm, mmengine, DeepSpeed): tests/frameworks/test_checks.py
#: fires each and shows a close run that must not.
FRAMEWORK_CHECKS = {"warmup-vs-run", "warmup-shape", "peak-overrides-lr"}


def test_every_check_is_tested_both_ways() -> None:
    assert {c[0] for c in TRIGGERS} | FRAMEWORK_CHECKS == set(CHECKS)
    assert {c[0] for c in NON_TRIGGERS} | FRAMEWORK_CHECKS == set(CHECKS)


def test_checks_have_one_line_explanations() -> None:
    assert list(CHECKS) == [
        "cosine-short-tmax",
        "horizon-unit-mismatch",
        "onecycle-stopped",
        "milestones-beyond-run",
        "warmup-longer-than-run",
        "plateau-never-reduced",
        "lr-ends-at-start",
        "lr-near-zero-long",
        "metric-shorter-than-run",
        "run-vs-horizon",
        "run-length-assumed",
        "schedule-vs-geometry",
        "warmup-vs-run",
        "first-steps-at-zero",
        "decay-unfinished",
        "frequency-skips",
        "warmup-shape",
        "peak-overrides-lr",
        "epoch-scheduler-never-steps",
        "staircase-warmup",
    ]
    for code, text in CHECKS.items():
        assert code == code.lower() and " " not in code
        assert text and "\n" not in text and text.endswith(".")


def test_the_brief_examples_read_as_promised() -> None:
    _, _, found = run("cosine:T_max=20", epochs=150)
    assert [(d.code, d.message, d.fix) for d in found] == [
        (
            "cosine-short-tmax",
            "T_max=20 but the run is 150 epochs: the lr climbs back up 4 times",
            "for a single decay over the run use --T_max 150",
        )
    ]
    _, schedule, found = run("onecycle:max_lr=0.1,total_steps=50", epochs=3, steps_per_epoch=20)
    assert schedule.stopped
    assert by_code(found, "onecycle-stopped")[0].message == (
        "OneCycleLR ran out of steps at step 51 of 60; training would crash there"
    )


def test_climbs_are_counted_from_the_curve() -> None:
    # T_max=10 over 100 epochs: minima at 10, 30, 50, 70, 90 -> five climbs.
    _, _, found = run("cosine:T_max=10", epochs=100)
    assert "climbs back up 5 times" in by_code(found, "cosine-short-tmax")[0].message
    # per iteration: T_max=100 over 1000 steps -> five climbs as well.
    _, _, found = run("cosine:T_max=100", epochs=50, **ITER20)
    hit = by_code(found, "cosine-short-tmax")[0]
    assert "1000 steps" in hit.message and "5 times" in hit.message
    assert hit.fix == "for a single decay over the run use --T_max 1000"


def test_several_groups_are_judged_together() -> None:
    _, _, found = run("exponential:gamma=1", epochs=5, lr="0.1,0.01")
    assert by_code(found, "lr-ends-at-start")[0].message.startswith("the lr stays at 0.1, 0.01")
    _, _, found = run("cosine:T_max=30", epochs=150, lr="0.1,0.01")  # minima at 30 and 90
    assert "twice" in by_code(found, "cosine-short-tmax")[0].message


def test_unresolved_spec_is_resolved_first() -> None:
    spec = parse_spec("cosine:T_max=20", epochs=150)
    found = diagnose(spec, simulate(spec))
    assert [d.code for d in found] == ["cosine-short-tmax"]


def test_diagnostic_is_frozen() -> None:
    d = Diagnostic("lr-ends-at-start", "warning", "the lr ends where it started (0.1)", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.code = "other"  # type: ignore[misc]


#: a minimal SPEC for every built-in scheduler.
MINIMAL = {
    "step": "step:step_size=10",
    "multistep": "multistep:milestones=[10,20]",
    "exponential": "exponential:gamma=0.9",
    "cosine": "cosine:T_max=10",
    "cosine-restarts": "sgdr:T_0=5",
    "cyclic": "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=4",
    "onecycle": "onecycle:max_lr=0.1",
    "plateau": "plateau",
    "lambda": "lambda:lr_lambda='0.9**epoch'",
    "multiplicative": "multiplicative:lr_lambda='0.9'",
    "constant": "constant",
    "linear": "linear",
    "poly": "poly",
    "sequential": "sequential:schedulers=['linear','cosine:T_max=10'],milestones=[5]",
    "chained": "chained:schedulers=['linear','exponential:gamma=0.9']",
}


@pytest.mark.parametrize("info", registry.SCHEDULERS, ids=lambda i: i.name)
@pytest.mark.parametrize("options", [{"epochs": 30}, {"epochs": 7, **ITER20}, {"warmup": 3}])
def test_every_scheduler_is_diagnosed_without_error(
    info: registry.SchedulerInfo, options: dict[str, Any]
) -> None:
    if info.name in ("sequential", "chained", "plateau") and options.get("warmup"):
        with pytest.raises(UsageError, match="--warmup cannot wrap"):
            run(MINIMAL[info.name], **options)
        return
    _, _, found = run(MINIMAL[info.name], **options)
    for d in found:
        assert d.code in CHECKS and d.level in ("warning", "info") and d.message


def test_check_warns_when_the_run_length_is_lrplots_guess() -> None:
    """Issue 10.1: `lrplot check` warns when the horizon checks lack the real run length."""
    spec = parse_spec("cosine:T_max=100", steps_per_epoch=50, step_per="iter").resolved()
    assert (spec.epochs, spec.length_from) == (2, "T_max=100")
    schedule = simulate(spec)
    assert by_code(diagnose(spec, schedule), "run-length-assumed") == []
    (hit,) = by_code(diagnose(spec, schedule, check=True), "run-length-assumed")
    assert hit.level == "warning"
    assert "derived from T_max=100" in hit.message and "T_max cannot be checked" in hit.message
    assert "--epochs" in (hit.fix or "")
    given = parse_spec("cosine:T_max=100", epochs=2, steps_per_epoch=50, step_per="iter")
    assert diagnose(given.resolved(), schedule, check=True) == []
    default = parse_spec("exponential:gamma=0.9").resolved()
    (hit,) = by_code(diagnose(default, simulate(default), check=True), "run-length-assumed")
    assert "default of 100 epochs" in hit.message
    data = parse_spec("plateau", metric="1,0.9,0.9,0.9").resolved()
    assert (data.epochs, data.length_from) == (4, "metric length")
    assert by_code(diagnose(data, simulate(data), check=True), "run-length-assumed") == []


def test_counts_read_right_in_the_singular() -> None:
    """Issue 10.12: "every 1 step", not "every 1 steps"."""
    _, _, found = run("step:step_size=1", epochs=50, steps_per_epoch=4, step_per="iter")
    (hit,) = by_code(found, "horizon-unit-mismatch")
    assert "the lr decays every 1 step, 200 times" in hit.message
