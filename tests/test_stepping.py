"""Mixed stepping, fractional epochs, Lightning's frequency and accumulation: lrplot's rows
equal a training loop written out by hand, with real optimizer steps.

Each loop below is the documented loop itself (torch's docs for fractional epochs,
Lightning's ``_update_learning_rates`` for its frequency, the loop ``--warmup-step-per
iter`` promises); row i is the lr optimizer step i used, recorded by a step pre-hook.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from lrplot.engine import simulate
from lrplot.errors import UsageError
from lrplot.options import DisplayOptions
from lrplot.pipeline import Request, run
from lrplot.spec import make_spec


def _model_and_optimizer(lr: float = 0.1) -> tuple[Any, Any, list[float]]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rows: list[float] = []
    optimizer.register_step_pre_hook(lambda o, a, k: rows.append(o.param_groups[0]["lr"]))
    return model, optimizer, rows


def _backward(model: Any, scale: float = 1.0) -> None:
    x = torch.randn(4, 3)
    (model(x).square().mean() * scale).backward()


def test_fractional_epochs_equal_the_loop_torch_documents():
    # CosineAnnealingWarmRestarts' docs: scheduler.step(epoch + i / iters) after each batch
    epochs, iters = 9, 10
    model, optimizer, rows = _model_and_optimizer()
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=3, T_mult=2)
    for epoch in range(epochs):
        for i in range(iters):
            optimizer.zero_grad()
            _backward(model)
            optimizer.step()
            scheduler.step(epoch + i / iters)
    spec = make_spec(
        "sgdr", {"T_0": 3, "T_mult": 2}, epochs=epochs, steps_per_epoch=iters, fractional_epoch=True
    )
    np.testing.assert_allclose(simulate(spec).lr[:, 0], rows, rtol=1e-12, atol=0)


def test_fractional_epochs_count_batches_under_accumulation():
    # 10 batches per epoch, an optimizer step every 2: step(epoch + batch / 10) after each
    epochs, batches, accum = 4, 10, 2
    model, optimizer, rows = _model_and_optimizer()
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2)
    for epoch in range(epochs):
        for i in range(batches):
            _backward(model, 1 / accum)
            if (i + 1) % accum == 0:
                optimizer.step()
                optimizer.zero_grad()
                scheduler.step(epoch + i / batches)
    spec = make_spec(
        "sgdr",
        {"T_0": 2},
        epochs=epochs,
        dataset_size=batches * 8,
        batch_size=8,
        grad_accum=accum,
        fractional_epoch=True,
    )
    np.testing.assert_allclose(simulate(spec).lr[:, 0], rows, rtol=1e-12, atol=0)


@pytest.mark.parametrize("scheduler", ["multistep", "cosine", "exponential"])
def test_per_iteration_warmup_then_per_epoch_schedule_equals_its_loop(scheduler):
    kwargs = {
        "multistep": {"milestones": [3, 6], "gamma": 0.5},
        "cosine": {"T_max": 8, "eta_min": 0.001},
        "exponential": {"gamma": 0.8},
    }[scheduler]
    classes = {
        "multistep": "MultiStepLR",
        "cosine": "CosineAnnealingLR",
        "exponential": "ExponentialLR",
    }
    epochs, iters, warm = 10, 7, 17  # the warmup ends inside epoch 2: the main starts at 3
    model, optimizer, rows = _model_and_optimizer()
    main = getattr(torch.optim.lr_scheduler, classes[scheduler])(optimizer, **kwargs)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, 0.01, 1.0, total_iters=warm)
    step = 0
    for epoch in range(epochs):
        for _ in range(iters):
            optimizer.zero_grad()
            _backward(model)
            optimizer.step()
            if step < warm:
                warmup.step()
            step += 1
        if epoch >= math.ceil(warm / iters):
            main.step()
    spec = make_spec(
        scheduler, kwargs, epochs=epochs, steps_per_epoch=iters, warmup=warm, warmup_step_per="iter"
    )
    schedule = simulate(spec)
    np.testing.assert_allclose(schedule.lr[:, 0], rows, rtol=1e-12, atol=0)
    assert schedule.events[0].step == warm and schedule.events[0].label == "warmup ends"
    assert any("from epoch 3 on" in n for n in schedule.notes)


@pytest.mark.parametrize(
    ("batches", "accum", "frequency", "interval"),
    [
        (7, 2, 2, "step"),
        (7, 2, 3, "step"),
        (8, 1, 3, "step"),
        (5, 1, 10, "step"),
        (6, 2, 2, "epoch"),
    ],
)
def test_lightning_frequency_equals_lightnings_counter(batches, accum, frequency, interval):
    # Lightning 2.6 (training_epoch_loop.py): the optimizer steps when (batch + 1) % A == 0
    # or at the epoch's last batch; a step-interval scheduler steps after such a batch when
    # (batch + 1) % frequency == 0 (the batch index within the epoch), an epoch-interval
    # one after epoch e when (e + 1) % frequency == 0.
    epochs = 5
    model, optimizer, rows = _model_and_optimizer()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
    for epoch in range(epochs):
        for b in range(batches):
            _backward(model, 1 / accum)
            if (b + 1) % accum == 0 or b == batches - 1:
                optimizer.step()
                optimizer.zero_grad()
                if interval == "step" and (b + 1) % frequency == 0:
                    scheduler.step()
        if interval == "epoch" and (epoch + 1) % frequency == 0:
            scheduler.step()
    spec = make_spec(
        "step",
        {"step_size": 1, "gamma": 0.8},
        epochs=epochs,
        trainer="lightning",
        dataset_size=batches * 2,
        batch_size=2,
        grad_accum=accum,
        frequency=frequency,
        step_per="iter" if interval == "step" else "epoch",
    )
    np.testing.assert_allclose(simulate(spec).lr[:, 0], rows, rtol=1e-12, atol=0)


def test_train_steps_stops_the_run_mid_epoch():
    spec = make_spec(
        "cosine", {"T_max": 30}, epochs=3, steps_per_epoch=10, step_per="iter", train_steps=25
    )
    schedule = simulate(spec)
    full = simulate(
        make_spec("cosine", {"T_max": 30}, epochs=3, steps_per_epoch=10, step_per="iter")
    )
    assert schedule.n == 25 and not schedule.stopped
    np.testing.assert_array_equal(schedule.lr, full.lr[:25])
    derived = make_spec(
        "cosine", {"T_max": 30}, steps_per_epoch=10, step_per="iter", train_steps=25
    ).resolved()
    assert (derived.epochs, derived.length_from) == (3, "--train-steps 25")


def test_x_samples_and_tokens(tmp_path):
    spec = make_spec("cosine", {"T_max": 4}, dataset_size=100, batch_size=5, grad_accum=2)
    schedule = simulate(spec)
    assert schedule.samples_per_step == 10
    assert schedule.x_scale("samples") == 10
    out = str(tmp_path / "s.png")
    result = run(Request([[spec]], DisplayOptions(out=[out], x="samples")))
    assert result.written == [out]
    with pytest.raises(UsageError, match="--seq-len"):
        run(Request([[spec]], DisplayOptions(out=[out], x="tokens")))
    result = run(Request([[spec]], DisplayOptions(out=[out], x="tokens", seq_len=512)))
    assert result.flat[0].x_scale("tokens") == 5120
    plain = make_spec("cosine", {"T_max": 4})
    with pytest.raises(UsageError, match="--batch-size"):
        run(Request([[plain]], DisplayOptions(out=[out], x="samples")))


def test_mixed_stepping_on_the_command_line_and_in_yaml(tmp_path):
    from typer.testing import CliRunner

    from lrplot import cli, gallery

    out = tmp_path / "w.csv"
    words = [
        "sgdr",
        "--T_0",
        "3",
        "--epochs",
        "6",
        "--steps-per-epoch",
        "4",
        "--fractional-epoch",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(cli.app, words)
    assert result.exit_code == 0, result.output
    spec = make_spec("sgdr", {"T_0": 3}, epochs=6, steps_per_epoch=4, fractional_epoch=True)
    rows = [float(line.split(",")[2]) for line in out.read_text().splitlines()[1:]]
    np.testing.assert_allclose(rows, simulate(spec).lr[:, 0], rtol=1e-12)
    loaded = gallery.load_text(
        "entries:\n"
        "  warm:\n"
        "    scheduler: torch.optim.lr_scheduler.MultiStepLR\n"
        "    kwargs: {milestones: [3, 6]}\n"
        "    epochs: 8\n"
        "    steps_per_epoch: 5\n"
        "    warmup: 12\n"
        "    warmup_step_per: iter\n"
        "  frac:\n"
        "    scheduler: sgdr\n"
        "    kwargs: {T_0: 3}\n"
        "    epochs: 6\n"
        "    steps_per_epoch: 4\n"
        "    fractional_epoch: yes\n",
        "m.yaml",
    )
    assert [e.command for e in loaded.entries] == [
        "lrplot multistep --milestones 3,6 --epochs 8 --steps-per-epoch 5 --warmup 12 "
        "--warmup-step-per iter",
        "lrplot cosine-restarts --T_0 3 --epochs 6 --steps-per-epoch 4 --fractional-epoch",
    ]
    assert loaded.entries[0].specs[0].mixed_warmup


def test_a_dotted_torch_path_is_a_command():
    from typer.testing import CliRunner

    from lrplot import cli

    result = CliRunner().invoke(
        cli.app, ["torch.optim.lr_scheduler.StepLR", "--step_size", "3", "--epochs", "6", "-o", "-"]
    )
    assert result.exit_code == 0 and "step,epoch,lr\n0,0.0,0.1" in result.output, result.output


def _readme_section() -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return text.split("## From your training config", 1)[1].split("\n## ", 1)[0]


def test_the_readme_geometry_and_stepping_examples_run_as_shown(tmp_path, monkeypatch):
    import re
    import shlex

    from typer.testing import CliRunner

    from lrplot import cli

    section = _readme_section()
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```console\n\$ (lrplot (?!from).*?)\n(.*?)```", section, re.S)
    assert blocks
    for command, shown in blocks:
        result = CliRunner().invoke(cli.app, shlex.split(command)[1:], env={"COLUMNS": "100"})
        assert result.output.splitlines() == shown.splitlines(), result.output
    commands = re.findall(r"^(lrplot (?:multistep|sgdr) .*)$", section, re.M)
    assert len(commands) == 2
    for command in commands:
        result = CliRunner().invoke(cli.app, [*shlex.split(command)[1:], "-o", "x.png"])
        assert result.exit_code == 0 and "⚠" not in result.output, result.output
