"""The checks of framework pitfalls, on the frameworks' own schedulers: each fires, and a
close configuration does not.

The checks read traits (``warmup_kwargs``, ``peak_kwarg``, ``warmup_shape``) that only a
framework's classes carry, so they are tested here, where the frameworks are installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lrplot
from lrplot.configs import plan_from_file
from lrplot.diagnose import diagnose
from lrplot.engine import simulate
from lrplot.errors import UsageError
from lrplot.pipeline import run

DS = "deepspeed.runtime.lr_schedules"
HF = "transformers.optimization"
EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "frameworks"


def codes(scheduler: str, kwargs: dict, **options: object) -> dict[str, object]:
    """Return the diagnostics of a plug-in run by code."""
    spec = lrplot.make_spec(scheduler, kwargs, **options).resolved()
    return {d.code: d for d in diagnose(spec, simulate(spec))}


def test_warmup_decay_without_warmup_max_lr_peaks_at_its_default():
    pytest.importorskip("deepspeed")
    kwargs = {"total_num_steps": 100, "warmup_num_steps": 10, "warmup_type": "linear"}
    found = codes(f"{DS}:WarmupDecayLR", kwargs, lr=3e-4, epochs=100)
    hit = found["peak-overrides-lr"]
    assert "warmup_max_lr=0.001 (its default) replaces the optimizer's lr 0.0003" in hit.message
    same = codes(f"{DS}:WarmupDecayLR", {**kwargs, "warmup_max_lr": 3e-4}, lr=3e-4, epochs=100)
    assert "peak-overrides-lr" not in same


def test_deepspeed_log_warmup_and_its_two_steps_at_zero():
    pytest.importorskip("deepspeed")
    kwargs = {"total_num_steps": 100, "warmup_num_steps": 20, "warmup_max_lr": 0.1}
    found = codes(f"{DS}:WarmupDecayLR", kwargs, epochs=100)
    assert "log-shaped" in found["warmup-shape"].message
    zero = found["first-steps-at-zero"]
    assert zero.level == "warning" and "first 2 optimizer steps" in zero.message
    assert "warmup_min_lr above 0" in (zero.fix or "")
    linear = codes(
        f"{DS}:WarmupDecayLR",
        {**kwargs, "warmup_type": "linear", "warmup_min_lr": 0.001},
        epochs=100,
    )
    assert "warmup-shape" not in linear and "first-steps-at-zero" not in linear


def test_a_warmup_as_long_as_the_run():
    pytest.importorskip("transformers")
    long = {"num_warmup_steps": 150, "num_training_steps": 100}
    found = codes(f"{HF}:get_linear_schedule_with_warmup", long, epochs=100)
    assert "num_warmup_steps=150 is at least the run (100 steps)" in found["warmup-vs-run"].message
    short = codes(
        f"{HF}:get_linear_schedule_with_warmup", {**long, "num_warmup_steps": 10}, epochs=100
    )
    assert "warmup-vs-run" not in short


def test_a_warmup_rounded_to_nothing_by_convert_to_iter_based_is_mmengines_error(tmp_path):
    """mmengine itself refuses a range that rounds to nothing; lrplot says so in one line."""
    pytest.importorskip("mmengine")
    config = tmp_path / "warm.yaml"

    def body(end: float) -> str:
        return (
            "train_cfg: {by_epoch: true, max_epochs: 4}\n"
            "train_dataloader: {batch_size: 10}\n"
            "param_scheduler:\n"
            f"  - {{type: LinearLR, start_factor: 0.01, end: {end}, convert_to_iter_based: true}}\n"
            "  - {type: CosineAnnealingLR, T_max: 4, begin: 0, end: 4}\n"
        )

    config.write_text(body(0.05))  # 0.05 epochs of 10 iterations: int(0.5) = 0
    request = plan_from_file(config, overrides={"dataset_size": 100})
    with pytest.raises(UsageError, match="end should be larger than begin, but got begin=0, end=0"):
        run(request, write=False)
    config.write_text(body(0.5))  # 5 iterations
    found = run(plan_from_file(config, overrides={"dataset_size": 100}), write=False)
    assert found.schedules[0][0].lr[5, 0] == pytest.approx(0.1)


def test_timm_warmup_epochs_stepped_per_epoch_climb_in_stairs():
    pytest.importorskip("timm")
    kwargs = {"sched": "cosine", "num_epochs": 20, "warmup_epochs": 3, "warmup_lr": 1e-4}
    found = codes("timm.scheduler:create_scheduler_v2", kwargs, steps_per_epoch=10)
    assert "warmup_epochs=3 epochs stepped once per epoch" in found["staircase-warmup"].message
    updates = codes(
        "timm.scheduler:create_scheduler_v2",
        {**kwargs, "step_on_epochs": False},
        steps_per_epoch=10,
    )
    assert "staircase-warmup" not in updates
