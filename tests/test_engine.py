"""The engine against the canonical loop (DESIGN §1) and closed-form formulas."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from lrplot import registry
from lrplot.engine import simulate
from lrplot.errors import SimulationError, UsageError
from lrplot.spec import make_spec
from tests.conftest import canonical

#: Several kwarg sets per scheduler; every registry entry must appear here.
CASES: dict[str, list[str]] = {
    "step": ["step:step_size=3", "step:step_size=2,gamma=0.5"],
    "multistep": ["multistep:milestones=[2,5,7]", "multistep:milestones=[4,4,9],gamma=0.3"],
    "exponential": ["exp:gamma=0.9", "exponential:gamma=0.5"],
    "cosine": ["cosine:T_max=7", "cosine:T_max=4,eta_min=0.001"],
    "cosine-restarts": ["sgdr:T_0=3", "cosine-restarts:T_0=2,T_mult=2,eta_min=1e-4"],
    "cyclic": [
        "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=3",
        "cyclic:base_lr=0.01,max_lr=0.2,step_size_up=2,step_size_down=4,mode=triangular2",
        "cyclic:base_lr=0.001,max_lr=0.1,step_size_up=3,mode=exp_range,gamma=0.9",
    ],
    "onecycle": [
        "onecycle:max_lr=0.1",
        "onecycle:max_lr=0.5,anneal_strategy=linear,three_phase=true,pct_start=0.4",
    ],
    "plateau": ["plateau:patience=2", "plateau:patience=1,factor=0.5,mode=max,cooldown=1"],
    "lambda": ["lambda:lr_lambda='0.9**epoch'", "lambda:lr_lambda='1 if epoch < 3 else 0.1'"],
    "multiplicative": ["multiplicative:lr_lambda=0.95", "multiplicative:lr_lambda='0.99**epoch'"],
    "constant": ["constant", "constant:factor=0.5,total_iters=3"],
    "linear": ["linear", "linear:start_factor=1.0,end_factor=0.1,total_iters=8"],
    "poly": ["poly:total_iters=6", "polynomial:total_iters=8,power=2"],
    "sequential": [
        "sequential:schedulers=['linear:start_factor=0.1,total_iters=3','cosine:T_max=6'],"
        "milestones=[3]",
        "sequential:schedulers=['constant:factor=0.5,total_iters=2','exp:gamma=0.8',"
        "'step:step_size=2'],milestones=[2,5]",
    ],
    "chained": [
        "chained:schedulers=['constant:factor=0.5,total_iters=3','exp:gamma=0.9']",
        "chained:schedulers=['linear:start_factor=0.2,total_iters=4','cosine:T_max=9']",
    ],
}


def test_cases_cover_the_registry():
    assert set(CASES) == {info.name for info in registry.SCHEDULERS}


PARAMS = [
    pytest.param(text, groups, step_per, spe, id=f"{text}|g{groups}|{step_per}|k{spe}")
    for entries in CASES.values()
    for text in entries
    for groups in (1, 2)
    for step_per, spe in (("epoch", 1), ("epoch", 3), ("iter", 3))
]


@pytest.mark.parametrize(("text", "groups", "step_per", "spe"), PARAMS)
def test_equals_canonical_loop(text, groups, step_per, spe):
    run = {
        "epochs": 10,
        "steps_per_epoch": spe,
        "step_per": step_per,
        "lr": "0.1,0.05"[: 3 if groups == 1 else None],
    }
    got = simulate(text, **run)
    want = canonical(text, **run)
    assert got.lr.shape == want["lr"].shape
    np.testing.assert_array_equal(got.lr, want["lr"])
    np.testing.assert_array_equal(got.momentum, want["momentum"])


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
@pytest.mark.parametrize(
    "text", ["onecycle:max_lr=0.1", "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=4"]
)
def test_beta1_recorded_for_adam(text, optimizer):
    got = simulate(text, epochs=12, optimizer=optimizer)
    want = canonical(text, epochs=12, optimizer=optimizer)
    np.testing.assert_array_equal(got.lr, want["lr"])
    np.testing.assert_array_equal(got.momentum, want["momentum"])
    assert got.momentum_name == "beta1"
    assert got.momentum_varies


@pytest.mark.parametrize("warmup", [1, 4])
def test_warmup_equals_canonical(warmup):
    got = simulate("cosine:T_max=10", warmup=warmup, warmup_start_factor=0.1)
    want = canonical("cosine:T_max=10", warmup=warmup, warmup_start_factor=0.1)
    np.testing.assert_array_equal(got.lr, want["lr"])
    assert got.n == 10 + warmup
    assert got.lr[0, 0] == pytest.approx(0.01)


def test_onecycle_past_total_steps_stops_like_training():
    got = simulate("onecycle:max_lr=0.1,total_steps=20", epochs=30)
    want = canonical("onecycle:max_lr=0.1,total_steps=20", epochs=30)
    np.testing.assert_array_equal(got.lr, want["lr"])
    assert got.n == 21 and got.planned_steps == 30 and got.stopped
    assert any("stopped at step 21 of 30" in note for note in got.notes)
    assert got.events[-1].kind == "stop"


def test_onecycle_filled_from_run_options():
    s = simulate("onecycle:max_lr=0.1", epochs=50, steps_per_epoch=20)
    assert s.n == 1000 and not s.stopped
    assert s.lr[:, 0].max() == pytest.approx(0.1)
    assert s.lr[0, 0] == pytest.approx(0.1 / 25)


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize(
    ("t_max", "eta_min", "lr"), [(150, 0.0, 0.1), (20, 1e-5, 0.3), (7, 0.01, 1.0)]
)
def test_cosine_closed_form(t_max, eta_min, lr):
    s = simulate(f"cosine:T_max={t_max},eta_min={eta_min}", lr=lr, epochs=t_max + 1)
    t = np.arange(t_max + 1)
    want = eta_min + (lr - eta_min) * (1 + np.cos(np.pi * t / t_max)) / 2
    np.testing.assert_allclose(s.lr[:, 0], want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("size", "gamma"), [(30, 0.1), (7, 0.5)])
def test_step_closed_form(size, gamma):
    s = simulate(f"step:step_size={size},gamma={gamma}", epochs=100)
    want = 0.1 * gamma ** (np.arange(100) // size)
    np.testing.assert_allclose(s.lr[:, 0], want, rtol=1e-12)


def test_exponential_closed_form():
    s = simulate("exp:gamma=0.97", epochs=200, lr=0.5)
    np.testing.assert_allclose(s.lr[:, 0], 0.5 * 0.97 ** np.arange(200), rtol=1e-12)


@pytest.mark.parametrize(("total", "power"), [(10, 1.0), (40, 2.0), (25, 0.5)])
def test_polynomial_closed_form(total, power):
    s = simulate(f"poly:total_iters={total},power={power}", epochs=total + 5)
    t = np.minimum(np.arange(total + 5), total)
    np.testing.assert_allclose(s.lr[:, 0], 0.1 * (1 - t / total) ** power, rtol=1e-9, atol=1e-15)


def test_per_epoch_rows_repeat_within_epoch():
    s = simulate("step:step_size=2,gamma=0.5", epochs=4, steps_per_epoch=3)
    assert s.lr[:, 0].tolist() == [0.1] * 6 + [0.05] * 6
    assert s.epoch[3] == 1.0 and s.epoch[4] == pytest.approx(4 / 3)


def test_events_mark_decays_and_restarts():
    assert [e.step for e in simulate("multistep:milestones=[30,80]").events] == [30, 80]
    assert [
        e.step for e in simulate("step:step_size=30", epochs=100, steps_per_epoch=2).events
    ] == [60, 120, 180]
    assert [e.step for e in simulate("sgdr:T_0=10,T_mult=2").events] == [10, 30]


def test_python_callables_and_metric_arrays():
    s = simulate(make_spec("lambda", {"lr_lambda": [lambda e: 0.5**e]}, epochs=4))
    assert s.lr[:, 0].tolist() == [0.1, 0.05, 0.025, 0.0125]
    s = simulate(make_spec("plateau", {"patience": 0}, metric=np.array([1.0, 1.0]), epochs=4))
    assert s.lr[:, 0].tolist() == pytest.approx([0.1, 0.1, 0.01, 0.001])
    assert s.metric.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert s.metric_given == 2  # diagnose warns (metric-shorter-than-run), render shades


def test_torch_rejection_becomes_usage_error():
    with pytest.raises(UsageError, match="torch rejected LinearLR: Starting multiplicative"):
        simulate("linear:start_factor=2")
    with pytest.raises(UsageError, match=r"torch rejected OneCycleLR: .*pct_start"):
        simulate("onecycle:max_lr=0.1,pct_start=1.5")


def test_scheduler_crash_becomes_simulation_error():
    with pytest.raises(SimulationError, match="epoch 0"):
        simulate("lambda:lr_lambda='1/epoch'")


def test_no_dynamo_import_and_fresh_process_state():
    code = (
        "import sys, torch; from lrplot.engine import simulate; simulate('cosine:T_max=5');"
        "assert 'torch._dynamo' not in sys.modules;"
        "f = torch.optim.Optimizer.add_param_group.__wrapped__;"
        "assert not hasattr(f, '__dynamo_disable'); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_fresh_optimizer_per_curve():
    a = simulate("cosine:T_max=10", lr=0.1)
    b = simulate("cosine:T_max=10", lr=0.5)
    assert a.lr[0, 0] == 0.1 and b.lr[0, 0] == 0.5
    assert math.isclose(b.lr[5, 0], 0.25)


def test_nan_lr_reported_with_first_bad_step():
    spec = make_spec("lambda", {"lr_lambda": [lambda e: float("nan") if e >= 3 else 1.0]})
    with pytest.raises(SimulationError, match=r"becomes nan at step 3 \(epoch 3\)"):
        simulate(spec)


def test_plateau_note_counts_reductions():
    s = simulate(make_spec("plateau", {"patience": 0}, metric=[1.0], epochs=4))
    assert s.notes[-1] == "ReduceLROnPlateau reduced the lr 2 times (at steps 2, 3)"
    s = simulate(make_spec("plateau", {"patience": 0}, metric=[1.0], epochs=3))
    assert s.notes[-1] == "ReduceLROnPlateau reduced the lr 1 time (at step 2)"


def test_nested_onecycle_gets_the_steps_it_really_runs():
    import torch
    from torch.optim import lr_scheduler

    got = simulate(
        "chained:schedulers=['onecycle:max_lr=0.1']", epochs=50, steps_per_epoch=20, step_per="iter"
    )
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    sched = lr_scheduler.ChainedScheduler(
        [lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=1000)], optimizer=opt
    )
    want = []
    for _ in range(1000):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert not got.stopped and got.n == 1000
    np.testing.assert_array_equal(got.lr[:, 0], want)


def test_onecycle_after_a_sequential_milestone_is_sized_to_what_remains():
    s = simulate(
        "sequential:schedulers=['linear:start_factor=0.1,total_iters=5',"
        "'onecycle:max_lr=0.1'],milestones=[5]",
        epochs=50,
    )
    assert not s.stopped and s.n == 50
    assert s.lr[-1, 0] == pytest.approx(0.1 / 25 / 1e4)


def test_run_options_apply_to_a_spec_object():
    assert simulate(make_spec("cosine", {"T_max": 10}), epochs=30).n == 30


def test_expression_failing_mid_run_is_a_runtime_error():
    with pytest.raises(SimulationError, match="division by zero at epoch 5"):
        simulate("lambda:lr_lambda='1/(epoch-5)'")


def test_onecycle_per_epoch_is_built_as_a_training_script_builds_it():
    """Issue 10.2: OneCycleLR(epochs=E, steps_per_epoch=K) stepped once per epoch."""
    import torch

    spec = make_spec("onecycle", {"max_lr": 0.1}, epochs=10, steps_per_epoch=10, step_per="epoch")
    resolved = spec.resolved()
    assert resolved.kwargs["epochs"] == 10 and resolved.kwargs["steps_per_epoch"] == 10
    assert "total_steps" not in resolved.kwargs
    s = simulate(spec)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=10)
    want = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no optimizer.step(): it cannot change the lr
        for _ in range(10):  # the loop of a script that steps per epoch
            want.append(opt.param_groups[0]["lr"])
            sched.step()
    assert s.lr[::10, 0].tolist() == want
    assert s.lr[:, 0].max() < 0.1  # a tenth of the cycle: it never reaches max_lr
    assert not s.stopped


def test_metric_data_sets_the_run_length():
    """Issue 10.3: a metric given as data is the run, unless --epochs says otherwise."""
    losses = [1.0 - 0.01 * i for i in range(30)] + [0.7] * 30
    s = simulate(make_spec("plateau", {"patience": 3}, metric=losses))
    assert s.n == 60 and s.metric_given is None and s.length_from == "metric length"
    longer = simulate(make_spec("plateau", {"patience": 3}, metric=losses, epochs=100))
    assert longer.n == 100 and longer.metric_given == 60
    per_batch = simulate(
        make_spec("plateau", {"patience": 3}, metric=losses, steps_per_epoch=7, step_per="iter")
    )
    assert per_batch.n == 63  # ceil(60 / 7) epochs of 7 steps


def test_kwargs_keep_the_signature_order():
    """Issue 10.21: YAML, SPEC and the command line give one title, whatever the order."""
    a = make_spec("plateau", {"patience": 5, "factor": 0.5}, epochs=10)
    b = make_spec("plateau", {"factor": 0.5, "patience": 5}, epochs=10)
    want = "lrplot plateau --factor 0.5 --patience 5 --epochs 10"
    assert a.to_command() == b.to_command() == want
