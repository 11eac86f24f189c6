"""transformers: lrplot equals the ``Trainer``'s own stepping, row by row.

The Trainer steps the scheduler after every optimizer step (after each gradient-
accumulation window) and ReduceLROnPlateau after each evaluation with its metric.
"""

from __future__ import annotations

import math
import tempfile

import numpy as np
import pytest

from tests.frameworks.conftest import assert_rows, lrplot_rows, quiet, recorded, tiny, train_step

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

import lrplot
from lrplot.engine import simulate
from lrplot.plugins import scheduler_info

HF = "transformers.optimization"


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
        out = self.lin(x)
        loss = None if labels is None else torch.nn.functional.mse_loss(out, labels)
        return {"loss": loss, "logits": out}


def _data(n: int, seed: int = 7) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, 4, generator=g)
    return [{"x": xs[i], "labels": xs[i].sum().reshape(1)} for i in range(n)]


class _Metrics(TrainerCallback):
    def __init__(self) -> None:
        self.evals: list[float] = []

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.evals.append(float(metrics["eval_loss"]))


def run_trainer(n_samples: int = 40, **args: object) -> tuple[list[list[float]], Trainer, list]:
    """Train with a real Trainer on CPU; return the lr each optimizer step used."""
    model = _Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rows = recorded(optimizer)
    base: dict = dict(
        output_dir=tempfile.mkdtemp(prefix="hf_"),
        per_device_train_batch_size=2,
        learning_rate=0.1,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
        max_grad_norm=0.0,
    )
    base.update(args)
    training = TrainingArguments(**base)
    metrics = _Metrics()
    evaluate = _data(6, seed=3) if training.eval_strategy != "no" else None
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=_data(n_samples),
        eval_dataset=evaluate,
        optimizers=(optimizer, None),
        callbacks=[metrics],
    )
    with quiet():
        trainer.train()
    return rows, trainer, metrics.evals


@pytest.mark.parametrize(
    ("name", "extra", "specific"),
    [
        ("linear", {}, None),
        ("cosine", {}, None),
        ("cosine_with_restarts", {"lr_scheduler_kwargs": {"num_cycles": 3}}, {"num_cycles": 3}),
        ("polynomial", {"lr_scheduler_kwargs": {"power": 2.0}}, {"power": 2.0}),
        ("constant_with_warmup", {}, None),
        ("inverse_sqrt", {}, None),
        (
            "cosine_with_min_lr",
            {"lr_scheduler_kwargs": {"min_lr_rate": 0.1}},
            {"min_lr_rate": 0.1},
        ),
        (
            "warmup_stable_decay",
            {"lr_scheduler_kwargs": {"num_decay_steps": 4}},
            {"num_decay_steps": 4},
        ),
    ],
)
def test_get_scheduler_equals_trainer(name, extra, specific):
    """Trainer(max_steps=12, grad accumulation 2, warmup 0.25) == lrplot get_scheduler."""
    rows, trainer, _ = run_trainer(
        max_steps=12,
        gradient_accumulation_steps=2,
        warmup_steps=0.25,
        lr_scheduler_type=name,
        **extra,
    )
    warmup = math.ceil(12 * 0.25)  # TrainingArguments.get_warmup_steps
    kwargs = {"name": name, "num_warmup_steps": warmup, "num_training_steps": 12}
    if specific:
        kwargs["scheduler_specific_kwargs"] = specific
    got = lrplot_rows(f"{HF}:get_scheduler", kwargs, epochs=12)
    assert_rows(got, rows)
    logged = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert_rows(got, logged)  # what the Trainer logs is the lr each step used


def test_epoch_based_trainer_equals_steps_per_epoch():
    """13 samples, batch 2, accumulation 2: 4 optimizer steps per epoch, 2 epochs."""
    rows, trainer, _ = run_trainer(
        n_samples=13,
        num_train_epochs=2,
        gradient_accumulation_steps=2,
        warmup_steps=0.3,
        lr_scheduler_type="linear",
    )
    assert trainer.state.max_steps == 8
    got = lrplot_rows(
        f"{HF}:get_linear_schedule_with_warmup",
        {"num_warmup_steps": math.ceil(8 * 0.3), "num_training_steps": 8},
        epochs=2,
        steps_per_epoch=4,
    )
    assert_rows(got, rows)


def test_greedy_equals_trainer_evaluations():
    """GreedyLR is stepped like plateau: after each evaluation, with the eval loss."""
    kwargs = {"mode": "max", "factor": 0.5, "patience": 0, "min_lr": 1e-4, "smooth": False}
    rows, _, evals = run_trainer(
        max_steps=8,
        eval_strategy="steps",
        eval_steps=2,
        metric_for_best_model="loss",
        lr_scheduler_type="greedy",
        lr_scheduler_kwargs=kwargs,
    )
    spec = lrplot.make_spec(f"{HF}:GreedyLR", kwargs, epochs=4, steps_per_epoch=2, metric=evals)
    schedule = simulate(spec)
    assert_rows(schedule.lr, rows)
    assert len({r[0] for r in rows}) > 1  # it moved


def test_reduce_on_plateau_equals_trainer_evaluations():
    """Plateau stepped after each evaluation (every 2 steps) with the eval loss."""
    rows, _, evals = run_trainer(
        max_steps=8,
        eval_strategy="steps",
        eval_steps=2,
        metric_for_best_model="loss",
        lr_scheduler_type="reduce_lr_on_plateau",
        lr_scheduler_kwargs={"mode": "max", "factor": 0.5, "patience": 0},
    )
    assert len(evals) == 4
    spec = lrplot.make_spec(
        f"{HF}:get_reduce_on_plateau_schedule",
        {"mode": "max", "factor": 0.5, "patience": 0},
        epochs=4,
        steps_per_epoch=2,
        metric=evals,
    )
    assert_rows(simulate(spec).lr, rows)
    by_name = lrplot.make_spec(
        f"{HF}:get_scheduler",
        {
            "name": "reduce_lr_on_plateau",
            "scheduler_specific_kwargs": {"mode": "max", "factor": 0.5, "patience": 0},
        },
        epochs=4,
        steps_per_epoch=2,
        metric=evals,
    )
    assert_rows(simulate(by_name).lr, rows)


FACTORIES = [
    ("get_constant_schedule_with_warmup", {"num_warmup_steps": 3}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 3, "num_training_steps": 20}),
    ("get_cosine_schedule_with_warmup", {"num_warmup_steps": 3, "num_training_steps": 20}),
    (
        "get_cosine_with_hard_restarts_schedule_with_warmup",
        {"num_warmup_steps": 2, "num_training_steps": 20, "num_cycles": 3},
    ),
    (
        "get_polynomial_decay_schedule_with_warmup",
        {"num_warmup_steps": 2, "num_training_steps": 20, "power": 2.0, "lr_end": 1e-4},
    ),
    ("get_inverse_sqrt_schedule", {"num_warmup_steps": 4}),
    (
        "get_wsd_schedule",
        {"num_warmup_steps": 3, "num_decay_steps": 5, "num_stable_steps": 8},
    ),
]


@pytest.mark.parametrize(("name", "kwargs"), FACTORIES, ids=[f[0] for f in FACTORIES])
def test_factories_equal_the_trainer_loop(name, kwargs):
    """Each factory, stepped after every optimizer step as the Trainer does."""
    import transformers.optimization as optimization

    model, optimizer, rows = tiny()
    scheduler = getattr(optimization, name)(optimizer, **kwargs)
    for _ in range(20):
        train_step(model, optimizer)
        scheduler.step()
    assert_rows(lrplot_rows(f"{HF}:{name}", kwargs, epochs=20), rows)


@pytest.mark.parametrize(("name", "kwargs"), FACTORIES, ids=[f[0] for f in FACTORIES])
def test_run_length_is_the_schedules_horizon(name, kwargs):
    """Without --epochs the run is num_training_steps optimizer steps, stepped per step."""
    spec = lrplot.make_spec(f"{HF}:{name}", kwargs).resolved()
    assert spec.step_per == "iter"
    schedule = simulate(lrplot.make_spec(f"{HF}:{name}", kwargs))
    if "num_training_steps" in kwargs or "num_decay_steps" in kwargs:
        want = kwargs.get("num_training_steps") or sum(
            kwargs[k] for k in ("num_warmup_steps", "num_stable_steps", "num_decay_steps")
        )
        assert schedule.n == want == schedule.horizon
    else:  # no end: lrplot's default length, and a warning says so
        assert spec.length_from == "default"


def test_readme_example_draws_the_whole_schedule(tmp_path):
    """The README's command draws all 1000 steps, not the 100-step warmup."""
    from typer.testing import CliRunner

    from lrplot import cli

    out = tmp_path / "hf.csv"
    result = CliRunner().invoke(
        cli.app,
        [
            f"{HF}:get_cosine_schedule_with_warmup",
            "--num_warmup_steps",
            "100",
            "--num_training_steps",
            "1000",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert rows.shape[0] == 1000
    assert rows[100, 2] == pytest.approx(0.1) and rows[-1, 2] < 1e-5


def test_check_warns_when_the_run_is_shorter_than_num_training_steps():
    from typer.testing import CliRunner

    from lrplot import cli

    args = [
        "check",
        f"{HF}:get_cosine_schedule_with_warmup",
        "--num_warmup_steps",
        "100",
        "--num_training_steps",
        "1000",
    ]
    short = CliRunner().invoke(cli.app, [*args, "--epochs", "10", "--steps-per-epoch", "50"])
    assert short.exit_code == 1, short.output
    assert "ends at step 1000" in short.output and "--epochs 20" in short.output
    long = CliRunner().invoke(cli.app, [*args, "--epochs", "30", "--steps-per-epoch", "50"])
    assert long.exit_code == 1 and "goes on to step 1500" in long.output, long.output
    exact = CliRunner().invoke(cli.app, [*args, "--epochs", "20", "--steps-per-epoch", "50"])
    assert exact.exit_code == 0, exact.output


def test_get_scheduler_binds_the_optimizer_by_name_and_types_name_as_a_choice():
    info = scheduler_info(f"{HF}:get_scheduler")
    assert info.optimizer_arg == "optimizer" and not info.optimizer_positional
    name = info.kwarg("name")
    assert name is not None and name.kind == "choice" and "cosine" in name.choices
    assert info.kwarg("scheduler_specific_kwargs").kind == "literal"


def test_kwargs_function_accepts_any_key_typed_by_literal(tmp_path):
    from typer.testing import CliRunner

    from lrplot import cli

    out = tmp_path / "p.csv"
    result = CliRunner().invoke(
        cli.app,
        [
            f"{HF}:get_reduce_on_plateau_schedule",
            "--patience",
            "0",
            "--factor",
            "0.5",
            "--mode=max",
            "--metric",
            "1,2,1,1,1",
            "--epochs",
            "5",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lr = np.loadtxt(out, delimiter=",", skiprows=1)[:, 2]
    # mode=max, patience 0: the lr halves after each epoch whose metric is no new maximum
    assert lr.tolist() == [0.1, 0.1, 0.1, 0.05, 0.025]
    bad = CliRunner().invoke(
        cli.app, [f"{HF}:get_reduce_on_plateau_schedule", "--nonsense", "1", "--epochs", "3"]
    )
    assert bad.exit_code == 2 and "Traceback" not in bad.output, bad.output


def test_warmup_option_wraps_a_transformers_lambda():
    """--warmup still works for transformers' schedules: they are torch LambdaLRs."""
    spec = lrplot.make_spec(
        f"{HF}:get_cosine_schedule_with_warmup",
        {"num_warmup_steps": 0, "num_training_steps": 20},
        warmup=5,
        epochs=25,
    )
    lr = simulate(spec).lr[:, 0]
    assert lr[0] == pytest.approx(0.001) and lr[5] == pytest.approx(0.1)
