"""The frameworks' own code that turns a training config into scheduler kwargs.

``lrplot.configs`` reads a config file; where a number depends on how a framework reads
its own config (HF's warmup rounding and DeepSpeed ``"auto"`` values, timm's
``scheduler_kwargs``, mmengine's config files and scheduler registry, DeepSpeed's
scheduler lookup), it asks the installed framework here, never a copy of its rules. A
framework that is not installed is an error that names the ``pip install`` to run.

Example:
    >>> require("json", "json", "reading JSON").__name__
    'json'
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import io
import logging
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lrplot.errors import LrplotError, UsageError

#: the ``TrainingArguments`` fields that decide the schedule (the others are not read:
#: a saved config's fp16 or report_to must not fail on this machine).
HF_SCHEDULE_FIELDS = (
    "learning_rate",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_steps",
    "warmup_ratio",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "dataloader_drop_last",
    "max_grad_norm",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "weight_decay",
    "optim",
)
#: ``TrainingArguments`` fields DeepSpeed's ``"auto"`` filling compares, read as given.
_HF_DS_FLAGS = ("fp16", "fp16_full_eval", "bf16", "bf16_full_eval", "save_on_each_node")


def require(module: str, package: str, what: str) -> Any:
    """Import ``module`` or fail with the ``pip install`` that provides it.

    Raises:
        LrplotError: the package is not installed (exit 1).
    """
    try:
        with _quiet():
            return importlib.import_module(module)
    except ImportError as exc:
        raise LrplotError(
            f"{what} needs {package}, which is not installed here ({exc})",
            hint=f"pip install {package}",
        ) from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep what frameworks print and warn while importing and resolving off lrplot's output."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- Hugging Face


def hf_fields() -> set[str]:
    """Return the init fields of the installed ``TrainingArguments``."""
    transformers = require("transformers", "transformers", "a Hugging Face config")
    return {f.name for f in dataclasses.fields(transformers.TrainingArguments) if f.init}


def hf_arguments(values: Mapping[str, Any]) -> Any:
    """Return the installed ``TrainingArguments`` built from the schedule's fields.

    Raises:
        UsageError: transformers rejected a value (its message is quoted).
    """
    transformers = require("transformers", "transformers", "a Hugging Face config")
    fields = hf_fields()
    chosen = {k: v for k, v in values.items() if k in HF_SCHEDULE_FIELDS and k in fields}
    try:
        with _quiet():
            return transformers.TrainingArguments(use_cpu=True, report_to="none", **chosen)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"transformers rejected the TrainingArguments: {_first_line(exc)}"
        ) from exc


def hf_version() -> str:
    """Return the installed transformers version."""
    return str(require("transformers", "transformers", "a Hugging Face config").__version__)


def hf_warmup_steps(args: Any, total: int) -> int:
    """Return ``args.get_warmup_steps(total)``: the installed version's warmup rounding."""
    return int(args.get_warmup_steps(total))


class _ArgsView:
    """``TrainingArguments`` as DeepSpeed's ``"auto"`` filling reads them, with the run's
    world size and the precision flags of the config file (not checked on this machine)."""

    def __init__(self, args: Any, world_size: int, flags: Mapping[str, Any]) -> None:
        self._args, self.world_size = args, world_size
        for key in _HF_DS_FLAGS:
            setattr(self, key, bool(flags.get(key, False)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._args, name)


def hf_deepspeed(
    ds_config: Mapping[str, Any],
    args: Any,
    *,
    total: int,
    world_size: int,
    flags: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the DeepSpeed config with ``"auto"`` filled as HF's Trainer fills it.

    ``trainer_config_process`` and ``trainer_config_finalize`` of the installed
    transformers do the work, with ``total`` optimizer steps.

    Raises:
        UsageError: a value that is not ``"auto"`` disagrees with the TrainingArguments
            (the Trainer refuses it too).
    """
    require("deepspeed", "deepspeed", "a DeepSpeed config")
    module = require(
        "transformers.integrations.deepspeed", "transformers", "DeepSpeed's 'auto' values"
    )
    view = _ArgsView(args, world_size, flags)
    try:
        with _quiet():
            config = module.HfTrainerDeepSpeedConfig(copy.deepcopy(dict(ds_config)))
            config.trainer_config_process(view)
            config.trainer_config_finalize(view, None, total)
    except ValueError as exc:
        lines = [line.strip("- ") for line in str(exc).splitlines() if line.startswith("- ")]
        raise UsageError(
            "the DeepSpeed config disagrees with the TrainingArguments, and HF's Trainer "
            "refuses that: " + ("; ".join(lines) or _first_line(exc)),
            hint='set those DeepSpeed values to "auto"',
        ) from exc
    finally:
        module.unset_hf_deepspeed_config()
    return dict(config.config)


# --------------------------------------------------------------------------- DeepSpeed


def deepspeed_scheduler(type_name: str) -> str:
    """Return the scheduler DeepSpeed builds for ``"scheduler": {"type": ...}``.

    DeepSpeed looks the name up in ``deepspeed.runtime.lr_schedules``, then in
    ``torch.optim.lr_scheduler``; the result is ``module:Name`` (or torch's class name).

    Raises:
        UsageError: neither module has it.
    """
    schedules = require("deepspeed.runtime.lr_schedules", "deepspeed", "a DeepSpeed config")
    if isinstance(getattr(schedules, type_name, None), type):
        return f"deepspeed.runtime.lr_schedules:{type_name}"
    from torch.optim import lr_scheduler

    if isinstance(getattr(lr_scheduler, type_name, None), type):
        return type_name
    raise UsageError(
        f"DeepSpeed has no scheduler {type_name!r} (it looks in deepspeed.runtime.lr_schedules, "
        "then torch.optim.lr_scheduler)",
        key="type",
    )


# --------------------------------------------------------------------------- timm


def timm_scheduler_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``create_scheduler_v2``'s kwargs from train.py's args, by timm's own mapping."""
    import argparse

    factory = require("timm.scheduler.scheduler_factory", "timm", "a timm args.yaml")
    return dict(factory.scheduler_kwargs(argparse.Namespace(**values)))


# --------------------------------------------------------------------------- mmengine


def mmengine_config(path: Path) -> dict[str, Any]:
    """Read an mmengine config with ``Config.fromfile`` (it runs a ``.py`` config's code).

    Raises:
        UsageError: mmengine could not read it (its message is quoted).
    """
    config = require("mmengine.config", "mmengine", "an mmengine config")
    try:
        with _quiet():
            loaded = config.Config.fromfile(str(path))
            return dict(loaded.to_dict())
    except Exception as exc:  # a config file's own code may raise anything
        raise UsageError(
            f"mmengine could not read {path}: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def mmengine_scheduler(type_: Any) -> str:
    """Return ``module:Name`` of an mmengine scheduler: a registry name or a class.

    Raises:
        UsageError: not a parameter scheduler mmengine's registry knows.
    """
    registry = require("mmengine.registry", "mmengine", "an mmengine config")
    require("mmengine.optim", "mmengine", "an mmengine config")  # registers the schedulers
    cls = registry.PARAM_SCHEDULERS.get(type_) if isinstance(type_, str) else type_
    if not isinstance(cls, type):
        raise UsageError(
            f"{type_!r} is not a scheduler in mmengine's PARAM_SCHEDULERS registry "
            "(a downstream library's own scheduler is not loaded here)",
            key="type",
        )
    return f"{cls.__module__}:{cls.__qualname__}"


def mmengine_optimizer(type_: Any) -> str:
    """Return the class name of an ``optim_wrapper.optimizer`` type (``SGD``, ``AdamW``)."""
    if isinstance(type_, type):
        return type_.__name__
    return str(type_).rsplit(".", 1)[-1]
