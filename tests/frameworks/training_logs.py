"""Tiny real CPU trainings that write training logs, once correct and once per bug.

The logs ``lrplot verify`` reads, written by the real loggers: the Hugging Face
``Trainer`` (``trainer_state.json``, and TensorBoard events through its own callback),
Lightning's ``CSVLogger`` with ``LearningRateMonitor`` (``metrics.csv``), torch's
``SummaryWriter`` in a plain loop (TensorBoard events), and a plain loop writing a CSV.
Each case records the lr every optimizer step really used (an optimizer step pre-hook)
and says which command verifies it and what verify must find (``case.json``).

The bugs, one per kind of issue 13:
- accumulation not accounted: the horizon computed from the dataloader's length
  (``hf/bug_accum``, ``lightning/bug_accum``), or ``scheduler.step()`` per micro-batch
  (``tensorboard/bug_accum``);
- stepped per epoch: ``return [opt], [sched]`` in Lightning (interval ``epoch``), or
  ``scheduler.step()`` after the epoch (``tensorboard/bug_epoch``);
- a resume that rebuilds the scheduler without its state: a checkpoint without
  ``scheduler.pt`` (``hf/bug_resume``; the Trainer then loads neither state), a script
  that saves no scheduler state (``tensorboard/bug_resume``, a second event file);
- lr logged after the step: ``get_last_lr()`` after ``scheduler.step()``
  (``tensorboard/bug_after``, ``lightning/bug_after``, ``csv/bug_after``);
- the scheduler never stepped (``tensorboard/bug_const``).

``tests/data/logs`` holds the logs this wrote (``case.json`` names the versions);
regenerate it in the framework environment with::

    .venv-fw/bin/python -m tests.frameworks.training_logs tests/data/logs

``tests/frameworks/test_training_logs.py`` runs these trainings again and checks
verify's verdicts and that the committed logs hold the same values.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

LR = 0.1


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _record(optimizer: Any, sink: list[float]) -> None:
    """Append the lr of group 0 each time ``optimizer.step()`` runs (before the update)."""
    optimizer.register_step_pre_hook(lambda o, a, k: sink.append(float(o.param_groups[0]["lr"])))


def _case(
    directory: Path,
    plan: list[str],
    log: str,
    expect: dict[str, Any],
    used: list[float],
    **extra: Any,
) -> None:
    """Write ``case.json``: the verify command's words, the log, the verdict, the truth."""
    import torch

    versions = {"torch": torch.__version__.split("+")[0]}
    for module in ("transformers", "lightning", "tensorboard"):
        found = sys.modules.get(module)
        if found is not None:
            versions[module] = found.__version__
    data = {"plan": plan, "log": log, "expect": expect, "used": used, "versions": versions}
    data.update(extra)
    (directory / "case.json").write_text(json.dumps(data, indent=1) + "\n")


def _data(n: int, seed: int = 7) -> tuple[Any, Any]:
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x.sum(dim=1, keepdim=True)


# --------------------------------------------------------------------------- transformers

HF_SAMPLES, HF_BATCH, HF_ACCUM, HF_EPOCHS = 24, 2, 2, 2
#: the plan: HF's own rule gives 6 optimizer steps per epoch, 12 in all, warmup 3 (0.25).
HF_PLAN = [
    "transformers.optimization:get_cosine_schedule_with_warmup",
    "--num_warmup_steps",
    "3",
    "--num_training_steps",
    "12",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "6",
]
#: the same plan without transformers: its cosine-with-warmup lambda as an expression.
HF_PLAN_TORCH = [
    "lambda",
    "--lr_lambda",
    "step/3 if step < 3 else 0.5*(1 + cos(pi*(step - 3)/9))",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "6",
    "--step-per",
    "iter",
]


def _hf_run(
    out: Path,
    used: list[float],
    sched: Callable[[Any], Any] | None = None,
    resume: str | None = None,
    stop_at: int | None = None,
    **args: Any,
) -> Any:
    import torch
    import torch.nn.functional as F
    from transformers import Trainer, TrainerCallback, TrainingArguments

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(4, 1)

        def forward(self, x: Any, labels: Any = None) -> dict[str, Any]:
            pred = self.lin(x)
            return {"loss": F.mse_loss(pred, labels), "logits": pred}

    class StopAt(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == stop_at:
                control.should_save = True
                control.should_training_stop = True

    x, y = _data(HF_SAMPLES)
    rows = [{"x": x[i], "labels": y[i]} for i in range(HF_SAMPLES)]
    options = dict(
        output_dir=str(out),
        per_device_train_batch_size=HF_BATCH,
        gradient_accumulation_steps=HF_ACCUM,
        num_train_epochs=HF_EPOCHS,
        learning_rate=LR,
        lr_scheduler_type="cosine",
        warmup_steps=0.25,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        max_grad_norm=0.0,
    )
    options.update(args)
    if stop_at is not None:
        options.update(save_strategy="steps", save_steps=10_000)
    model = Model()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    _record(optimizer, used)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**options),
        train_dataset=rows,
        optimizers=(optimizer, sched(optimizer) if sched else None),
        callbacks=[StopAt()] if stop_at is not None else [],
    )
    with _quiet():
        trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()
    return trainer


def hf_cases(root: Path) -> None:
    """Write the Hugging Face Trainer cases under ``root/hf``."""
    from transformers import get_cosine_schedule_with_warmup

    log = "trainer_state.json"
    d = root / "hf" / "ok"
    used: list[float] = []
    _hf_run(d, used)
    _case(d, HF_PLAN, log, {"kind": "agrees"}, used, torch_plan=HF_PLAN_TORCH)

    d = root / "hf" / "ok_tb"
    used = []
    _hf_run(d, used, report_to=["tensorboard"])
    (runs,) = (d / "runs").iterdir()
    for event in runs.iterdir():
        event.rename(d / "events.out.tfevents.hf")
    shutil.rmtree(d / "runs")
    (d / log).unlink()
    _case(d, HF_PLAN, "events.out.tfevents.hf", {"kind": "agrees"}, used, torch_plan=HF_PLAN_TORCH)

    # accumulation forgotten: the horizon (and the 0.25 warmup) from len(dataloader) * epochs
    d = root / "hf" / "bug_accum"
    used = []
    wrong = math.ceil(HF_SAMPLES / HF_BATCH) * HF_EPOCHS
    _hf_run(
        d, used, sched=lambda o: get_cosine_schedule_with_warmup(o, math.ceil(0.25 * wrong), wrong)
    )
    _case(
        d,
        HF_PLAN,
        log,
        {"kind": "time-scaled", "step": 1, "factor": 2},
        used,
        torch_plan=HF_PLAN_TORCH,
    )

    # interrupted at step 6; the checkpoint is complete (ok) or lost scheduler.pt (bug)
    for case, lose in (("ok_resume", False), ("bug_resume", True)):
        d = root / "hf" / case
        first: list[float] = []
        second: list[float] = []
        _hf_run(d, first, stop_at=6)
        checkpoint = d / "checkpoint-6"
        if lose:
            (checkpoint / "scheduler.pt").unlink()
        _hf_run(d, second, resume=str(checkpoint))
        shutil.rmtree(checkpoint)
        expect = {"kind": "restart", "step": 6} if lose else {"kind": "agrees"}
        _case(d, HF_PLAN, log, expect, first + second, torch_plan=HF_PLAN_TORCH)


# --------------------------------------------------------------------------- Lightning

PL_SAMPLES, PL_BATCH, PL_EPOCHS = 16, 2, 2
#: the plan: cosine over the 16 optimizer steps (8 per epoch), stepped every step.
PL_PLAN = [
    "cosine",
    "--T_max",
    "16",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "8",
    "--step-per",
    "iter",
]


def _lightning_run(
    out: Path,
    used: list[float],
    sched: Callable[[Any], Any],
    accumulate: int = 1,
    log_after: bool = False,
    tuple_form: bool = False,
) -> None:
    import lightning.pytorch as pl
    import torch
    import torch.nn.functional as F
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = F.mse_loss(self.lin(x), y)
            self.log("train_loss", loss)
            return loss

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            if log_after:  # the bug: read after the scheduler stepped
                self.log("lr", self.lr_schedulers().get_last_lr()[0])

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.parameters(), lr=LR)
            _record(optimizer, used)
            made = sched(optimizer)
            if tuple_form:  # the bug: no config dict, so Lightning steps it per epoch
                return [optimizer], [made]
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": made, "interval": "step"}}

    x, y = _data(PL_SAMPLES, seed=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=PL_BATCH, shuffle=False)
    with _quiet():
        trainer = pl.Trainer(
            max_epochs=PL_EPOCHS,
            accelerator="cpu",
            devices=1,
            log_every_n_steps=1,
            accumulate_grad_batches=accumulate,
            logger=CSVLogger(str(out), name="", version=0),
            callbacks=[LearningRateMonitor(logging_interval="step")],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(Module(), loader)
    (out / "version_0" / "metrics.csv").rename(out / "metrics.csv")
    shutil.rmtree(out / "version_0")


def lightning_cases(root: Path) -> None:
    """Write the Lightning CSVLogger + LearningRateMonitor cases under ``root/lightning``."""
    from torch.optim.lr_scheduler import CosineAnnealingLR

    log = "metrics.csv"
    steps = PL_EPOCHS * math.ceil(PL_SAMPLES / PL_BATCH)
    d = root / "lightning" / "ok"
    used: list[float] = []
    _lightning_run(d, used, lambda o: CosineAnnealingLR(o, T_max=steps))
    _case(d, PL_PLAN, log, {"kind": "agrees"}, used)

    d = root / "lightning" / "bug_epoch"
    used = []
    _lightning_run(d, used, lambda o: CosineAnnealingLR(o, T_max=steps), tuple_form=True)
    _case(d, PL_PLAN, log, {"kind": "per-epoch", "step": 1}, used)

    d = root / "lightning" / "bug_after"
    used = []
    _lightning_run(d, used, lambda o: CosineAnnealingLR(o, T_max=steps), log_after=True)
    _case(d, [*PL_PLAN, "--column", "lr"], log, {"kind": "shifted", "step": 0}, used)

    # accumulation 2: 8 optimizer steps; the plan sizes T_max to them, the script to batches
    d = root / "lightning" / "bug_accum"
    used = []
    _lightning_run(d, used, lambda o: CosineAnnealingLR(o, T_max=steps), accumulate=2)
    plan = [
        "cosine",
        "--T_max",
        "8",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "4",
        "--step-per",
        "iter",
    ]
    _case(d, plan, log, {"kind": "time-scaled", "step": 1, "factor": 2}, used)


# --------------------------------------------------------------------------- TensorBoard

TB_EPOCHS, TB_STEPS, TB_WARMUP = 2, 8, 3
TB_TOTAL = TB_EPOCHS * TB_STEPS
#: the plan: a 3-step linear warmup from 0.1x, then a cosine over the other 13 steps.
TB_PLAN = [
    "cosine",
    "--T_max",
    "13",
    "--warmup",
    "3",
    "--warmup-start-factor",
    "0.1",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "8",
    "--step-per",
    "iter",
]


def _tb_schedule(optimizer: Any) -> Any:
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    return SequentialLR(
        optimizer,
        [
            LinearLR(optimizer, start_factor=0.1, total_iters=TB_WARMUP),
            CosineAnnealingLR(optimizer, T_max=TB_TOTAL - TB_WARMUP),
        ],
        milestones=[TB_WARMUP],
    )


def _tb_loop(out: Path, case: str, micro: int = 1) -> list[float]:
    import torch
    import torch.nn.functional as F
    from torch.utils.tensorboard import SummaryWriter

    out.mkdir(parents=True, exist_ok=True)
    used: list[float] = []
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    _record(optimizer, used)
    scheduler = _tb_schedule(optimizer)
    x, y = _data(TB_TOTAL * micro, seed=0)
    writer = SummaryWriter(str(out))
    step = sample = 0
    for _epoch in range(TB_EPOCHS):
        for _ in range(TB_STEPS):
            for _m in range(micro):
                loss = F.mse_loss(model(x[sample : sample + 1]), y[sample : sample + 1]) / micro
                loss.backward()
                sample += 1
                if case == "bug_accum":
                    scheduler.step()  # the bug: once per micro-batch
            if case != "bug_after":
                writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
            optimizer.step()
            optimizer.zero_grad()
            if case in ("ok", "bug_after", "bug_resume"):
                scheduler.step()
            if case == "bug_after":  # the bug: the lr of the next step
                writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
            step += 1
            if case == "bug_resume" and step == 6:
                path = out / "checkpoint.pt"
                torch.save(
                    {"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path
                )  # the bug: no scheduler state
                writer.close()
                checkpoint = torch.load(path, weights_only=True)
                path.unlink()
                model = torch.nn.Linear(4, 1)
                model.load_state_dict(checkpoint["model"])
                optimizer = torch.optim.SGD(model.parameters(), lr=LR)
                _record(optimizer, used)
                optimizer.load_state_dict(checkpoint["optimizer"])
                scheduler = _tb_schedule(optimizer)
                writer = SummaryWriter(str(out))
        if case == "bug_epoch":
            scheduler.step()  # the bug: once per epoch
    writer.close()
    return used


def tensorboard_cases(root: Path) -> None:
    """Write the SummaryWriter cases under ``root/tensorboard``."""
    expect = {
        "ok": {"kind": "agrees"},
        "bug_after": {"kind": "shifted", "step": 0},
        "bug_epoch": {"kind": "per-epoch", "step": 1},
        "bug_accum": {"kind": "time-scaled", "step": 0, "factor": 2},
        "bug_resume": {"kind": "restart", "step": 6},
        "bug_const": {"kind": "constant", "step": 1},
    }
    for case, verdict in expect.items():
        d = root / "tensorboard" / case
        used = _tb_loop(d, case, micro=2 if case == "bug_accum" else 1)
        for i, event in enumerate(sorted(d.glob("events.out.tfevents.*"))):
            event.rename(d / f"events.out.tfevents.{i}")  # names without host or time
        _case(d, TB_PLAN, ".", verdict, used)


# --------------------------------------------------------------------------- plain CSV

CSV_PLAN = ["step", "--step_size", "4", "--gamma", "0.5", "--epochs", "12"]


def csv_cases(root: Path) -> None:
    """Write a plain loop's CSV of every 3rd step under ``root/csv`` (and the bug)."""
    import torch
    from torch.optim.lr_scheduler import StepLR

    for case in ("ok", "ok_no_steps", "bug_after"):
        d = root / "csv" / case
        d.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        used: list[float] = []
        _record(optimizer, used)
        scheduler = StepLR(optimizer, 4, 0.5)
        x, y = _data(12, seed=0)
        with open(d / "lr.csv", "w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["lr"] if case == "ok_no_steps" else ["step", "lr"])
            for step in range(12):
                lr = optimizer.param_groups[0]["lr"]
                loss = ((model(x[step : step + 1]) - y[step : step + 1]) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                if case == "bug_after":  # the bug: the lr of the next step
                    lr = scheduler.get_last_lr()[0]
                if step % 3 == 0:
                    out.writerow([lr] if case == "ok_no_steps" else [step, lr])
        plan = CSV_PLAN + (["--log-every", "3"] if case == "ok_no_steps" else [])
        expect = {"kind": "shifted", "step": 3} if case == "bug_after" else {"kind": "agrees"}
        _case(d, plan, "lr.csv", expect, used)


# --------------------------------------------------------------------------- W&B export


def wandb_cases(root: Path) -> None:
    """Write W&B panel CSV exports (SYNTHETIC layout) from the real HF and Lightning logs.

    wandb is not installed and has no server here: the layout (x column, then ``<run> -
    <metric>``, ``__MIN``, ``__MAX`` per run) is filled with the real logged values.
    """
    hf = json.loads((root / "hf" / "bug_accum" / "case.json").read_text())
    state = json.loads((root / "hf" / "bug_accum" / "trainer_state.json").read_text())
    points = [(e["step"], e["learning_rate"]) for e in state["log_history"] if "learning_rate" in e]
    d = root / "wandb" / "hf_bug_accum"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "export.csv", "w", newline="") as handle:
        out = csv.writer(handle, quoting=csv.QUOTE_ALL)
        metric = "brisk-pond-1 - train/learning_rate"
        out.writerow(["train/global_step", metric, metric + "__MIN", metric + "__MAX"])
        for step, lr in points:
            out.writerow([step, lr, lr, lr])
    _case(
        d, HF_PLAN, "export.csv", hf["expect"], hf["used"], torch_plan=HF_PLAN_TORCH, synthetic=True
    )

    runs = []
    for case in ("ok", "bug_epoch"):
        with open(root / "lightning" / case / "metrics.csv", newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r["lr-SGD"]]
        runs.append({int(r["step"]): r["lr-SGD"] for r in rows})
    d = root / "wandb" / "lightning"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "export.csv", "w", newline="") as handle:
        out = csv.writer(handle, quoting=csv.QUOTE_ALL)
        header = ["Step"]
        for name in ("fluent-sun-3", "quiet-moon-4"):
            header += [f"{name} - lr-SGD", f"{name} - lr-SGD__MIN", f"{name} - lr-SGD__MAX"]
        out.writerow(header)
        for step in sorted(set(runs[0]) | set(runs[1])):
            row: list[Any] = [step]
            for values in runs:
                row += [values.get(step, "")] * 3
            out.writerow(row)
    ok = json.loads((root / "lightning" / "ok" / "case.json").read_text())
    _case(
        d,
        PL_PLAN,
        "export.csv",
        {"kind": "agrees"},
        ok["used"],
        synthetic=True,
        runs={"quiet-moon-4": {"kind": "per-epoch", "step": 1}},
    )


def main(root: Path) -> None:
    """Write every case under ``root`` (replacing what is there)."""
    for sub in ("hf", "lightning", "tensorboard", "csv", "wandb"):
        shutil.rmtree(root / sub, ignore_errors=True)
    hf_cases(root)
    lightning_cases(root)
    tensorboard_cases(root)
    csv_cases(root)
    wandb_cases(root)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/logs"))
