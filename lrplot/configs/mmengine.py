"""mmengine config -> the runner's ``param_scheduler`` list, stepped by ``ParamSchedulerHook``.

``Runner._build_param_scheduler`` (mmengine 0.10) gives each scheduler without ``end`` the
run's ``max_epochs`` (``by_epoch``, the default) or ``max_iters``, then builds it with
``PARAM_SCHEDULERS.build(cfg, default_args=dict(optimizer=..., epoch_length=len(
train_dataloader)))``: ``convert_to_iter_based=True`` calls the class's
``build_iter_from_epoch``. Several schedulers act together (their factors multiply):
lrplot writes them as ``chained`` SPECs of mmengine classes and steps the list as the hook
does. ``train_cfg`` chooses the loop (``by_epoch=True``: ``EpochBasedTrainLoop`` with
``max_epochs``; else ``IterBasedTrainLoop`` with ``max_iters``, one "epoch"),
``optim_wrapper`` the optimizer, its lr and ``accumulative_counts``, ``train_dataloader``
the batch size. A ``.py`` config is Python that mmengine's ``Config.fromfile`` runs, so it
is read only with ``allow_import`` (``--allow-import``), like a plug-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrplot.configs.common import (
    Plan,
    build_spec,
    first_lr,
    length_source,
    mapping,
)
from lrplot.errors import UsageError
from lrplot.plugins import allowing, imports_are_allowed
from lrplot.spec import ScheduleSpec, make_spec

#: keys that say a mapping is an mmengine config.
KEYS = ("param_scheduler", "train_cfg", "optim_wrapper")


def _loop(train_cfg: Mapping[str, Any]) -> bool:
    """Return True for an epoch-based train loop, False for an iteration-based one."""
    kind = str(train_cfg.get("type", ""))
    if "by_epoch" in train_cfg:
        return bool(train_cfg["by_epoch"])
    if kind.endswith("IterBasedTrainLoop"):
        return False
    if kind.endswith("EpochBasedTrainLoop"):
        return True
    raise UsageError(
        "train_cfg should say by_epoch=True (max_epochs) or by_epoch=False (max_iters)",
        key="train_cfg",
    )


def _sub(cfg: Any, i: int, epoch_loop: bool) -> ScheduleSpec:
    """Return one ``param_scheduler`` entry as an mmengine scheduler spec."""
    from lrplot.engine import frameworks as fw

    entry = dict(mapping(cfg, f"param_scheduler[{i}]"))
    entry.pop("_scope_", None)
    if "type" not in entry:
        raise UsageError(f"param_scheduler[{i}] has no type", key="type")
    if entry.get("convert_to_iter_based") and not epoch_loop:
        raise UsageError(
            f"param_scheduler[{i}]: convert_to_iter_based under an iteration-based train loop "
            "scales by the dataloader's length, which lrplot does not count there",
            hint="write its begin/end in iterations with by_epoch=False",
            key="convert_to_iter_based",
        )
    type_ = entry.pop("type")
    scope = type_.partition(".")[0] if isinstance(type_, str) and "." in type_ else "mmengine"
    if scope != "mmengine" and not imports_are_allowed():  # mmengine imports `{scope}.registry`
        raise UsageError(
            f"param_scheduler[{i}]: type {type_!r} makes mmengine import the {scope!r} package; "
            "a config may import code only when you pass --allow-import",
            key="type",
            value=type_,
        )
    target = fw.mmengine_scheduler(type_)
    with allowing([target]):
        return make_spec(target, entry)


def plan(data: Mapping[str, Any], path: Path, overrides: dict[str, Any]) -> Plan:
    """Return the plan of an mmengine config (already read into plain data).

    Raises:
        UsageError: no param_scheduler or train_cfg, an unknown scheduler type, no dataset
            size for an epoch-based loop.
        LrplotError: mmengine is not installed.
    """
    if "param_scheduler" not in data:
        raise UsageError(
            f"{path.name}: no param_scheduler: the runner keeps the lr constant",
            key="param_scheduler",
        )
    train_cfg = mapping(data.get("train_cfg"), "train_cfg")
    epoch_loop = _loop(train_cfg)
    raw = data["param_scheduler"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise UsageError(f"{path.name}: param_scheduler is empty", key="param_scheduler")
    subs = [_sub(cfg, i, epoch_loop) for i, cfg in enumerate(items)]
    notes = [f"{path.name}: mmengine config ({'epoch' if epoch_loop else 'iteration'}-based loop)"]
    optim = mapping(data.get("optim_wrapper"), "optim_wrapper")
    optimizer = mapping(optim.get("optimizer"), "optim_wrapper.optimizer")
    run: dict[str, Any] = {"trainer": "mmengine"}
    if "lr" in overrides:
        run["lr"] = first_lr(overrides.pop("lr"))
    elif isinstance(optimizer.get("lr"), (int, float)):
        run["lr"] = optimizer["lr"]
    from lrplot.engine import frameworks as fw

    kind = fw.mmengine_optimizer(optimizer.get("type", "SGD")).lower()
    run["optimizer"] = {"adamw": "adamw", "adam": "adam"}.get(kind, "sgd")
    accum = overrides.pop("grad_accum", optim.get("accumulative_counts", 1) or 1)
    run["grad_accum"] = accum
    loader = mapping(data.get("train_dataloader"), "train_dataloader")
    batch = overrides.pop("batch_size", loader.get("batch_size"))
    if epoch_loop:
        epochs = overrides.get("epochs", train_cfg.get("max_epochs"))
        if not isinstance(epochs, int):
            raise UsageError("train_cfg needs max_epochs for an epoch-based loop", key="max_epochs")
        run["epochs"] = epochs
        run["length_from"] = length_source(path, f"train_cfg max_epochs={epochs}")
        if "dataset_size" in overrides:
            if not isinstance(batch, int):
                raise UsageError("--dataset-size needs --batch-size", key="batch_size")
            dataset = overrides.pop("dataset_size")
            world = overrides.pop("world_size", 1)
            drop = overrides.pop("drop_last", bool(loader.get("drop_last", False)))
            run.update(dataset_size=dataset, batch_size=batch, world_size=world, drop_last=drop)
        elif "steps_per_epoch" not in overrides:
            raise UsageError(
                f"{path.name}: the runner counts iterations from the training set: add "
                "--dataset-size N (and --world-size W), or --steps-per-epoch K",
                key="dataset_size",
            )
        elif isinstance(batch, int):
            run["batch_size"] = batch
    else:
        iters = train_cfg.get("max_iters")
        if not isinstance(iters, int):
            raise UsageError(
                "train_cfg needs max_iters for an iteration-based loop", key="max_iters"
            )
        if iters % accum:
            raise UsageError(
                f"max_iters={iters} is not a multiple of accumulative_counts={accum}: the last "
                "optimizer step is short, which lrplot does not draw",
                key="grad_accum",
            )
        run.update(epochs=1, steps_per_epoch=iters // accum)
        run["length_from"] = length_source(path, f"train_cfg max_iters={iters}")
        if isinstance(batch, int):
            run["batch_size"] = batch
        notes.append(
            f"an iteration-based loop is one 'epoch' of {iters} iterations: by_epoch schedulers "
            "step once, at its end"
        )
    if accum > 1:
        notes.append(
            f"accumulative_counts={accum}: iteration-based schedulers step every iteration, "
            f"{accum} times per optimizer step"
        )
    if len(subs) == 1:
        spec = build_spec(subs[0].scheduler, subs[0].kwargs, run, overrides, lrplot_target=True)
    else:
        spec = build_spec("chained", {"schedulers": subs}, run, overrides, lrplot_target=True)
        notes.append(
            f"{len(subs)} schedulers act together (their factors multiply), each stepped by its "
            "own by_epoch, as ParamSchedulerHook does"
        )
    return Plan(spec, "mmengine", notes)
