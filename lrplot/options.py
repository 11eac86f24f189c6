"""Run options and display options, declared once.

Every command's options (``lrplot SCHEDULER``, ``check``, ``compare``), the SPEC run keys
and the gallery's YAML schema are derived from the two dataclasses below: a field's
metadata says its flag, help text, value kind, bounds and where it applies.

Example:
    >>> [o.name for o in run_options(spec=True)][:3]
    ['lr', 'epochs', 'steps_per_epoch']
    >>> option("steps_per_epoch").flag
    '--steps-per-epoch'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

#: The value kinds an option may take; clients map each to their own types.
Kind = Literal["lr", "int", "float", "choice", "bool", "text", "metric", "texts", "ints"]

DEFAULT_MAX_STEPS = 50_000_000
DEFAULT_WARMUP_START = 0.01
RUN_PANEL = "Run options"
OUTPUT_PANEL = "Output options"
RESUME_PANEL = "Resume check"
LOG_PANEL = "Training log"
#: ``lrplot verify``'s default --rtol: float32 logs (TensorBoard) differ by about 6e-8.
DEFAULT_RTOL = 1e-5


@dataclass(frozen=True)
class Option:
    """One option: its name (the Python, SPEC and YAML key), flag, help and value kind.

    Attributes:
        spec: a run key of ``ScheduleSpec`` (also accepted in SPEC strings).
        negatable: a flag with a ``--no-`` form; unset (None) leaves the choice to lrplot.
        yaml: accepted in gallery configs (entries and ``defaults``).
        check: offered by ``lrplot check`` (display options are not).
    """

    name: str
    kind: Kind
    default: Any
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    short: str | None = None
    panel: str = RUN_PANEL
    spec: bool = False
    yaml: bool = False
    yaml_default: Any = None
    check: bool = True
    negatable: bool = False
    long: str | None = None

    @property
    def flag(self) -> str:
        """Return the long flag, e.g. ``--steps-per-epoch`` (``long`` when it is set)."""
        return self.long or "--" + self.name.replace("_", "-")


def _opt(default: Any, kind: Kind, help: str, **meta: Any) -> Any:
    return field(default=default, metadata={"option": (kind, help, meta)})


@dataclass
class RunOptions:
    """How the simulated training loop runs (DESIGN §2, run options)."""

    lr: Any = _opt(
        "0.1",
        "lr",
        "Initial lr of each param group; a comma list makes one curve per group.",
        metavar="LR[,LR..]",
        spec=True,
        yaml=True,
    )
    epochs: int | None = _opt(
        None,
        "int",
        "Epochs to simulate. Default: enough for T_max/T_0/total_iters, else 100.",
        metavar="N",
        minimum=1,
        spec=True,
        yaml=True,
    )
    steps_per_epoch: int | None = _opt(
        None,
        "int",
        "Optimizer steps (batches) per epoch. Default: 1, or counted from --dataset-size.",
        metavar="K",
        minimum=1,
        spec=True,
        yaml=True,
    )
    step_per: str | None = _opt(
        None,
        "choice",
        "When scheduler.step() runs. Default: iter for cyclic/onecycle, else epoch.",
        metavar="epoch|iter",
        choices=("epoch", "iter"),
        spec=True,
        yaml=True,
    )
    optimizer: str = _opt(
        "sgd",
        "choice",
        "Dummy optimizer: SGD (momentum 0.9) records momentum, Adam/AdamW beta1.",
        metavar="sgd|adam|adamw",
        choices=("sgd", "adam", "adamw"),
        spec=True,
        yaml=True,
    )
    warmup: int = _opt(
        0,
        "int",
        "Prepend a LinearLR warmup of N scheduler steps (via SequentialLR).",
        metavar="N",
        minimum=0,
        spec=True,
        yaml=True,
    )
    warmup_start_factor: float = _opt(
        DEFAULT_WARMUP_START,
        "float",
        "Start factor of the --warmup LinearLR.",
        above=0,
        maximum=1,
        spec=True,
        yaml=True,
    )
    metric: str | None = _opt(
        None,
        "metric",
        "ReduceLROnPlateau metric: a list '1,0.9,0.9', an expression of "
        "epoch or step (the scheduler-step counter), or @file.csv:column (its length is "
        "the run's length unless --epochs is given). Default: a seeded synthetic loss.",
        spec=True,
        yaml=True,
    )
    dataset_size: int | None = _opt(
        None,
        "int",
        "Training samples. With --batch-size, the optimizer steps per epoch are counted by "
        "--trainer's rule (instead of --steps-per-epoch).",
        metavar="N",
        minimum=1,
        spec=True,
        yaml=True,
    )
    batch_size: int | None = _opt(
        None,
        "int",
        "Batch size per device (process); also gives --x samples and tokens.",
        metavar="B",
        minimum=1,
        spec=True,
        yaml=True,
    )
    grad_accum: int = _opt(
        1,
        "int",
        "Gradient accumulation: batches per optimizer step.",
        metavar="A",
        minimum=1,
        spec=True,
        yaml=True,
    )
    world_size: int = _opt(
        1,
        "int",
        "Processes (GPUs x nodes), each running its own share of the batches.",
        metavar="W",
        minimum=1,
        spec=True,
        yaml=True,
    )
    drop_last: bool = _opt(
        False,
        "bool",
        "The DataLoader drops the last partial batch of each epoch.",
        spec=True,
        yaml=True,
    )
    trainer: str | None = _opt(
        None,
        "choice",
        "Whose loop counts the optimizer steps of --dataset-size (and steps the scheduler "
        "with --frequency): torch, hf, lightning, mmengine or timm. Default: the "
        "scheduler's framework (transformers: hf), else torch (a plain DataLoader loop).",
        metavar="NAME",
        choices=("torch", "hf", "lightning", "mmengine", "timm"),
        spec=True,
        yaml=True,
    )
    train_steps: int | None = _opt(
        None,
        "int",
        "Stop after N optimizer steps in all (a trainer's max_steps; the last epoch may be "
        "cut short). Default: epochs x steps per epoch.",
        metavar="N",
        minimum=1,
        spec=True,
        yaml=True,
    )
    frequency: int = _opt(
        1,
        "int",
        "Lightning's lr_scheduler frequency: step the scheduler when (batch index in the "
        "epoch + 1) is a multiple of K (--step-per iter), or (epoch + 1) is (--step-per "
        "epoch), as Lightning's loop counts it. Needs --trainer lightning.",
        metavar="K",
        minimum=1,
        spec=True,
        yaml=True,
    )
    warmup_step_per: str | None = _opt(
        None,
        "choice",
        "iter: step the --warmup after every optimizer step while the main scheduler steps "
        "per epoch, starting with the first epoch after the warmup. Default: as --step-per.",
        metavar="epoch|iter",
        choices=("epoch", "iter"),
        spec=True,
        yaml=True,
    )
    fractional_epoch: bool = _opt(
        False,
        "bool",
        "Call scheduler.step(epoch + i / batches) after every optimizer step (i: the batch "
        "index), as CosineAnnealingWarmRestarts' docs show; its kwargs count epochs.",
        spec=True,
        yaml=True,
    )
    sweep: list[str] | None = _opt(
        None,
        "texts",
        "Plot a family of curves as a kwarg varies; twice makes a grid.",
        metavar="KWARG=V1,V2..",
        check=False,
    )
    max_steps: int = _opt(
        DEFAULT_MAX_STEPS,
        "int",
        "Refuse runs longer than this many optimizer steps in all.",
        metavar="N",
        minimum=1,
    )


@dataclass
class DisplayOptions:
    """What to show and write (DESIGN §2, output options)."""

    out: list[str] | None = _opt(
        None,
        "texts",
        "Write .png .svg .pdf .csv .json .html (repeatable); '-' writes CSV to "
        "stdout. Default: SCHEDULER.png, named after the scheduler (lrplot exp writes "
        "exponential.png); no file with --term or --table.",
        metavar="PATH",
        short="-o",
        panel=OUTPUT_PANEL,
    )
    table: bool = _opt(
        False, "bool", "Print a table of the steps.", panel=OUTPUT_PANEL, check=False
    )
    every: int | None = _opt(
        None,
        "int",
        "With --table: also show every K-th step. Default: about 40 rows.",
        metavar="K",
        minimum=1,
        panel=OUTPUT_PANEL,
        check=False,
    )
    term: bool = _opt(
        False, "bool", "Draw the curve in the terminal.", panel=OUTPUT_PANEL, check=False
    )
    log: bool | None = _opt(
        None,
        "bool",
        "Log-scale lr axis (--no-log: linear). Default: log when 15% of the run or more is "
        "over 2 decades below the peak lr (a plateau cut 3 times), else linear from 0.",
        panel=OUTPUT_PANEL,
        yaml=True,
        check=False,
        negatable=True,
    )
    x: str = _opt(
        "epoch",
        "choice",
        "X axis: epoch, step (optimizer steps), samples (steps x batch size x accumulation x "
        "world size) or tokens (samples x --seq-len).",
        metavar="UNIT",
        choices=("epoch", "step", "samples", "tokens"),
        panel=OUTPUT_PANEL,
        yaml=True,
        check=False,
    )
    seq_len: int | None = _opt(
        None,
        "int",
        "Tokens per sample, for --x tokens.",
        metavar="L",
        minimum=1,
        panel=OUTPUT_PANEL,
        yaml=True,
        check=False,
    )
    title: str | None = _opt(
        None, "text", "Plot title. Default: the command line.", panel=OUTPUT_PANEL, check=False
    )
    momentum: bool = _opt(
        False,
        "bool",
        "Add a momentum/beta1 panel (and CSV columns).",
        panel=OUTPUT_PANEL,
        yaml=True,
        check=False,
    )
    annotate: bool = _opt(
        False,
        "bool",
        "Draw the diagnostics on the plot.",
        panel=OUTPUT_PANEL,
        yaml=True,
        yaml_default=True,
        check=False,
    )


@dataclass
class ResumeOptions:
    """``lrplot check --resume-at``: resume the schedule from a checkpoint (issue 13)."""

    resume_at: list[int] | None = _opt(
        None,
        "ints",
        "Resume from a checkpoint saved after N optimizer steps (repeatable): save the "
        "optimizer's and scheduler's state_dict() through torch.save/torch.load, rebuild, "
        "load, continue and compare with the uninterrupted run.",
        metavar="N",
        minimum=1,
        panel=RESUME_PANEL,
    )
    resume_epochs: int | None = _opt(
        None,
        "int",
        "Resume with a changed run length of M epochs: kwargs sized to the run (T_max, "
        "total_steps, num_training_steps...) are rebuilt for M; compare with a run planned "
        "for M epochs.",
        metavar="M",
        minimum=1,
        panel=RESUME_PANEL,
    )
    resume_style: str = _opt(
        "state-dict",
        "choice",
        "How your script resumes (a difference exits 1; the others are reported): "
        "state-dict (build, then load both states), optimizer-first (load the optimizer "
        "state before building the scheduler), last-epoch (build with last_epoch=N-1), "
        "no-state (rebuild the scheduler without its state).",
        metavar="STYLE",
        choices=("state-dict", "optimizer-first", "last-epoch", "no-state"),
        panel=RESUME_PANEL,
    )


@dataclass
class VerifyOptions:
    """``lrplot verify``: the training log to compare with the plan (issue 13)."""

    log_file: str = _opt(
        "",
        "text",
        "The training log: trainer_state.json (Hugging Face), metrics.csv (Lightning "
        "CSVLogger), a TensorBoard event file or directory, a W&B CSV export, or a CSV "
        "with step and lr columns.",
        metavar="FILE",
        long="--log",
        panel=LOG_PANEL,
    )
    format: str = _opt(
        "auto",
        "choice",
        "The log's format. Default: from the file.",
        metavar="auto|hf|lightning|tensorboard|wandb|csv",
        choices=("auto", "hf", "lightning", "tensorboard", "wandb", "csv"),
        panel=LOG_PANEL,
    )
    column: str | None = _opt(
        None,
        "text",
        "The lr column (CSV, W&B: a column or run name), or tag (TensorBoard). Default: "
        "the one named lr or learning rate.",
        metavar="NAME",
        panel=LOG_PANEL,
    )
    step_column: str | None = _opt(
        None,
        "text",
        "The CSV column holding the step. Default: step (else one row per step).",
        metavar="NAME",
        panel=LOG_PANEL,
    )
    step_base: str = _opt(
        "auto",
        "choice",
        "Logged step s is optimizer step s (0) or s-1 (1: counted after the update, as the "
        "Hugging Face Trainer does). Default: the writer's convention.",
        metavar="auto|0|1",
        choices=("auto", "0", "1"),
        panel=LOG_PANEL,
    )
    log_every: int | None = _opt(
        None,
        "int",
        "For a CSV without a step column: one row every K optimizer steps.",
        metavar="K",
        minimum=1,
        panel=LOG_PANEL,
    )
    rtol: float = _opt(
        DEFAULT_RTOL,
        "float",
        "Relative tolerance: a logged lr agrees within rtol of the planned one (or of "
        "0.1% of the peak, where the plan is near 0).",
        metavar="R",
        above=0,
        panel=LOG_PANEL,
    )


def _options(cls: type) -> tuple[Option, ...]:
    out = []
    for f in dataclasses.fields(cls):
        kind, help_text, meta = f.metadata["option"]
        out.append(Option(f.name, kind, f.default, help_text, **meta))
    return tuple(out)


RUN: tuple[Option, ...] = _options(RunOptions)
DISPLAY: tuple[Option, ...] = _options(DisplayOptions)
RESUME: tuple[Option, ...] = _options(ResumeOptions)
VERIFY: tuple[Option, ...] = _options(VerifyOptions)
#: the output options ``lrplot verify`` takes (its ``--log`` names the training log).
VERIFY_DISPLAY: tuple[str, ...] = ("out", "table", "every", "x", "title")
BY_NAME: dict[str, Option] = {o.name: o for o in RUN + DISPLAY + RESUME + VERIFY}


def run_options(*, spec: bool | None = None) -> tuple[Option, ...]:
    """Return the run options (only the SPEC run keys with ``spec=True``)."""
    return tuple(o for o in RUN if spec is None or o.spec == spec)


def page_options() -> tuple[Option, ...]:
    """Return the options an interactive page (``lrplot explore``) offers as fields.

    The run keys of a spec, and the display options of a YAML entry except ``annotate``
    (it draws the diagnostics on an image; the page always lists them).

    Example:
        >>> [o.name for o in page_options()][-3:]
        ['x', 'seq_len', 'momentum']
    """
    return run_options(spec=True) + tuple(o for o in DISPLAY if o.yaml and o.name != "annotate")


def option(name: str) -> Option:
    """Return the option called ``name``."""
    return BY_NAME[name]


#: keys of a SPEC string / config entry that are run options, not scheduler kwargs.
RUN_KEYS: tuple[str, ...] = (*(o.name for o in run_options(spec=True)), "label")
