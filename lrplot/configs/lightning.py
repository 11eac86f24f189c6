"""LightningCLI YAML -> the scheduler Lightning steps, and how its loop steps it.

``LightningCLI.configure_optimizers`` (Lightning 2.6) builds ``optimizer`` and
``lr_scheduler`` from their ``class_path``/``init_args`` and returns them as
``[optimizer], [scheduler]``: interval ``epoch``, frequency 1, whatever the scheduler. A
``configure_optimizers`` of your own may return ``{"interval": "step", "frequency": K}``
instead: say so with ``--step-per iter --frequency K``, and lrplot applies Lightning's
counter (the batch index within the epoch, reset every epoch; under accumulation only
batches that end a window step). ``trainer`` gives ``max_epochs``, ``max_steps``,
``accumulate_grad_batches`` and the world size (``devices`` x ``num_nodes``); the
dataset size is not in the file (``--dataset-size``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrplot.configs.common import Plan, build_spec, first_lr, length_source, mapping
from lrplot.errors import UsageError
from lrplot.registry import BY_NAME, canonical_name

#: keys that say a mapping is a LightningCLI config.
KEYS = ("trainer", "model", "data", "seed_everything", "ckpt_path")
#: Lightning's ``ReduceLROnPlateau`` (it only adds ``monitor``): torch's plateau here.
_PLATEAU = ("lightning.pytorch.cli", "pytorch_lightning.cli")


def is_lightning(data: Mapping[str, Any]) -> bool:
    """Return True for a LightningCLI config (a trainer section or class_path optimizers)."""
    classes = any(
        isinstance(data.get(k), Mapping) and "class_path" in data[k]
        for k in ("optimizer", "lr_scheduler", "model", "data")
    )
    return isinstance(data.get("trainer"), Mapping) or classes


def _class(value: Any, what: str) -> tuple[str, dict[str, Any]]:
    """Return ``(class path, init_args)`` of ``class_path``/``init_args`` or a bare name."""
    if isinstance(value, str):
        return value, {}
    entry = mapping(value, what)
    path = entry.get("class_path")
    if not isinstance(path, str):
        raise UsageError(f"{what} needs a class_path (e.g. torch.optim.SGD)", key=what)
    return path, dict(mapping(entry.get("init_args"), f"{what}.init_args"))


def _scheduler(path: str, init_args: dict[str, Any], notes: list[str]) -> tuple[str, bool]:
    """Return the scheduler name and whether lrplot chose it (a torch class: no import)."""
    module, _, name = path.rpartition(".")
    if module in _PLATEAU and name == "ReduceLROnPlateau":
        monitor = init_args.pop("monitor", None)
        notes.append(
            f"Lightning's ReduceLROnPlateau(monitor={monitor!r}) is torch's: lrplot steps it "
            "with --metric"
        )
        return "ReduceLROnPlateau", True
    name = canonical_name(path)
    return name, ":" not in name and name.lower() in BY_NAME


def _world(trainer: Mapping[str, Any], notes: list[str]) -> int:
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1) or 1
    if isinstance(devices, list):
        count_ = len(devices)
    elif isinstance(devices, int) and devices > 0:
        count_ = devices
    elif isinstance(devices, str) and devices.strip().isdigit():
        count_ = int(devices)
    else:
        notes.append(f"devices: {devices!r} is decided at run time: world size {nodes} assumed")
        count_ = 1
    return int(count_) * int(nodes)


def plan(data: Mapping[str, Any], path: Path, overrides: dict[str, Any]) -> Plan:
    """Return the plan of a LightningCLI config.

    Raises:
        UsageError: no lr_scheduler; per-step stepping without a dataset size.
    """
    notes = [f"{path.name}: LightningCLI config (configure_optimizers from the config)"]
    if "lr_scheduler" not in data:
        raise UsageError(
            f"{path.name}: no lr_scheduler: LightningCLI keeps the optimizer's lr constant",
            key="lr_scheduler",
        )
    sched_path, init_args = _class(data["lr_scheduler"], "lr_scheduler")
    name, chosen = _scheduler(sched_path, init_args, notes)
    run: dict[str, Any] = {"trainer": "lightning"}
    if data.get("optimizer") is not None:
        opt_path, opt_args = _class(data["optimizer"], "optimizer")
        kind = opt_path.rpartition(".")[2].lower()
        run["optimizer"] = {"adamw": "adamw", "adam": "adam"}.get(kind, "sgd")
        if kind not in ("sgd", "adam", "adamw"):
            notes.append(f"optimizer {opt_path}: the lr is the same; momentum is drawn as SGD's")
        if "lr" in opt_args:
            run["lr"] = opt_args["lr"]
        else:
            notes.append(f"optimizer {opt_path} has no init_args.lr: lrplot's --lr is used")
    if "lr" in overrides:
        run["lr"] = first_lr(overrides.pop("lr"))
    trainer = mapping(data.get("trainer"), "trainer")
    limit = trainer.get("limit_train_batches")
    if limit not in (None, 1.0, 1):
        raise UsageError(
            f"{path.name}: trainer.limit_train_batches={limit} cuts every epoch short, which "
            "lrplot does not count",
            hint="give --steps-per-epoch K (the optimizer steps of a cut epoch) and "
            "--grad-accum A instead of --dataset-size",
            key="limit_train_batches",
        )
    accum = overrides.pop("grad_accum", trainer.get("accumulate_grad_batches", 1) or 1)
    world = overrides.pop("world_size", None) or _world(trainer, notes)
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if max_steps is None:
        max_steps = -1
    how = f"max_epochs={max_epochs}"
    if max_epochs is None and max_steps == -1:
        max_epochs, how = 1000, "max_epochs unset: Lightning's default of 1000"
    batch = overrides.pop("batch_size", None)
    section = mapping(data.get("data"), "data")
    data_args = mapping(section.get("init_args"), "data.init_args") or section
    if batch is None and isinstance(data_args.get("batch_size"), int):
        batch = data_args["batch_size"]
        where = "data.init_args" if "init_args" in section else "data"
        notes.append(f"batch size {batch} from {where}.batch_size")
    if "dataset_size" in overrides:
        if batch is None:
            raise UsageError("--dataset-size needs --batch-size", key="batch_size")
        dataset = overrides.pop("dataset_size")
        drop = overrides.pop("drop_last", False)
        run.update(dataset_size=dataset, batch_size=batch, world_size=world, drop_last=drop)
    elif "steps_per_epoch" not in overrides:
        if overrides.get("step_per") == "iter":
            raise UsageError(
                f"{path.name}: stepping per batch needs the batches of an epoch: add "
                "--dataset-size N (and --batch-size B if the file has none)",
                key="dataset_size",
            )
        notes.append("no --dataset-size: one optimizer step per epoch is drawn")
    run["grad_accum"] = accum
    if max_epochs is not None and max_epochs != -1:
        run["epochs"] = max_epochs
        run["length_from"] = length_source(path, how)
    if max_steps != -1:
        run["train_steps"] = max_steps
        if "epochs" not in run:
            run["length_from"] = length_source(path, f"max_steps={max_steps}")
    step_per = {"iter": "step"}.get(overrides.get("step_per", "epoch"), "epoch")
    frequency = overrides.get("frequency", 1)
    run.update(step_per="epoch")
    if "step_per" in overrides or "frequency" in overrides:
        notes.append(
            f"interval {step_per!r}, frequency {frequency}: as your configure_optimizers "
            "returns them (--step-per, --frequency)"
        )
    else:
        notes.append(
            "interval 'epoch', frequency 1: LightningCLI's configure_optimizers always steps "
            "per epoch (--step-per iter --frequency K for your own configure_optimizers)"
        )
    spec = build_spec(name, init_args, run, overrides, lrplot_target=chosen)
    return Plan(spec, "lightning", notes)
