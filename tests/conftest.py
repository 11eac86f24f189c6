"""Shared test helpers: the canonical training loop of DESIGN §1, written independently."""

from __future__ import annotations

import os
import shutil
import warnings
from typing import Any

import numpy as np
import pytest

from lrplot.metric import metric_values
from lrplot.spec import ScheduleSpec, coerce_spec


def _build(spec: ScheduleSpec, optimizer: Any) -> Any:
    from torch.optim import lr_scheduler

    kwargs = dict(spec.kwargs)
    if "lr_lambda" in kwargs:
        fns = kwargs["lr_lambda"]
        kwargs["lr_lambda"] = fns[0] if len(fns) == 1 else fns
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [_build(s, optimizer) for s in kwargs["schedulers"]]
    if spec.info.module == "torch.optim.lr_scheduler":
        cls = getattr(lr_scheduler, spec.info.cls)
    else:
        from lrplot.plugins import load_target

        cls = load_target(spec.scheduler)
    if spec.info.cls == "ChainedScheduler":
        return cls(kwargs["schedulers"], optimizer=optimizer)
    return cls(optimizer, **kwargs)


def canonical(spec: ScheduleSpec | str, **run: Any) -> dict[str, np.ndarray]:
    """Run the DESIGN §1 loop with real gradients and optimizer.step(); return lr/momentum."""
    import torch
    from torch.optim import lr_scheduler

    spec = coerce_spec(spec, **run).resolved()
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3)) for _ in spec.lr]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, spec.lr, strict=True)]
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=spec.lr[0], momentum=0.9)
    elif spec.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=spec.lr[0])
    else:
        opt = torch.optim.AdamW(groups, lr=spec.lr[0])
    if spec.warmup:
        warm = lr_scheduler.LinearLR(
            opt, start_factor=spec.warmup_start_factor, total_iters=spec.warmup
        )
        sched = lr_scheduler.SequentialLR(opt, [warm, _build(spec, opt)], [spec.warmup])
    else:
        sched = _build(spec, opt)
    plateau = spec.info.cls == "ReduceLROnPlateau"
    n_sched = spec.epochs if spec.step_per == "epoch" else spec.n_steps
    metric = metric_values(spec.metric, n_sched)[0] if plateau else None
    lrs, moms, k = [], [], 0

    def sched_step() -> None:
        nonlocal k
        if plateau:
            sched.step(metric[k])
        else:
            sched.step()
        k += 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for _epoch in range(spec.epochs):
                for _batch in range(spec.steps_per_epoch):
                    lrs.append([g["lr"] for g in opt.param_groups])
                    moms.append(
                        [
                            g["momentum"] if spec.optimizer == "sgd" else g["betas"][0]
                            for g in opt.param_groups
                        ]
                    )
                    opt.zero_grad()
                    sum((p * p).sum() for p in params).backward()
                    opt.step()
                    if spec.step_per == "iter":
                        sched_step()
                if spec.step_per == "epoch":
                    sched_step()
        except ValueError as exc:  # OneCycleLR past total_steps: training stops here
            assert "Tried to step" in str(exc)
    return {"lr": np.array(lrs, dtype=float), "momentum": np.array(moms, dtype=float)}


@pytest.fixture
def canonical_loop():
    """Return the canonical-loop function."""
    return canonical


def _hypothesis_profiles() -> None:
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None, database=None)
    settings.register_profile("dev", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_hypothesis_profiles()


# ------------------------------------------------------------------ the browser tests

CHROMIUM = os.environ.get("LRPLOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Return Debian's chromium driven by Playwright, or skip: fail instead in CI.

    ``CI=true`` (set by ``.ci/run``, which installs both) or ``LRPLOT_BROWSER=required``
    make a missing Playwright or chromium a failure.
    """
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true" or os.environ.get("LRPLOT_BROWSER") == "required":
            pytest.fail(f"the browser tests must run here: {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
