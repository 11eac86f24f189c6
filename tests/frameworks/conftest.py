"""Helpers for the framework tests: real optimizers that record the lr each step uses.

These tests run in the framework environment (``make test-frameworks``, ``.venv-fw``);
in the plain ``.venv`` every module is skipped by its ``pytest.importorskip``.

Every reference loop below is the framework's own driver (``Trainer``, ``Engine``,
``Runner``, the DeepSpeed engine) or, where a driver is not in the package (timm's
train.py), the loop its training script runs, with a real model, real gradients and a
real ``optimizer.step()``. The lr is recorded by a step pre-hook on the optimizer: row ``i``
is what optimizer step ``i`` used, the definition lrplot's rows follow.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a CUDA build of torch on a CPU machine
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: the agreement required between lrplot and a framework's own loop.
RTOL = 1e-12


def recorded(optimizer: Any) -> list[list[float]]:
    """Record every group's lr at each ``optimizer.step()``, as that step uses it."""
    rows: list[list[float]] = []
    optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: rows.append([float(g["lr"]) for g in opt.param_groups])
    )
    return rows


def tiny(lrs: Sequence[float] = (0.1,), seed: int = 0) -> tuple[Any, Any, list[list[float]]]:
    """Return a small linear model, an SGD over it (one group per lr) and its lr record."""
    import torch

    torch.manual_seed(seed)
    layers = [torch.nn.Linear(4, 1) for _ in lrs]
    model = torch.nn.ModuleList(layers)
    groups = [{"params": m.parameters(), "lr": lr} for m, lr in zip(layers, lrs, strict=True)]
    optimizer = torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    return model, optimizer, recorded(optimizer)


def train_step(model: Any, optimizer: Any) -> float:
    """One real forward, backward and ``optimizer.step()``; return the loss."""
    import torch

    x = torch.randn(8, 4)
    loss = sum(((m(x) - x.sum(1, keepdim=True)) ** 2).mean() for m in model)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def assert_rows(got: np.ndarray, want: Sequence[Sequence[float]] | np.ndarray) -> None:
    """Assert lrplot's rows equal the framework's, row by row (rel 1e-12)."""
    want = np.asarray(want, dtype=float)
    if want.ndim == 1:
        want = want[:, None]
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


def lrplot_rows(scheduler: str, kwargs: dict[str, Any] | None = None, **run: Any) -> np.ndarray:
    """Return the lr rows lrplot simulates for a plug-in and run options."""
    import lrplot

    spec = lrplot.make_spec(scheduler, kwargs or {}, **run)
    return lrplot.simulate(spec).lr


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what trainers print (banners, progress bars) and their warnings."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def free_port() -> int:
    """Return a TCP port nobody listens on (for a process group's rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_script(script: str, *args: str, processes: int = 1, timeout: int = 300) -> None:
    """Run a training script in fresh processes (``processes`` > 1: torch.distributed.run)."""
    import subprocess
    import sys
    from pathlib import Path

    path = str(Path(__file__).with_name(script))
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    if processes > 1:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={processes}",
            f"--master_port={env['MASTER_PORT']}",
            path,
            *args,
        ]
    else:
        env.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
        command = [sys.executable, path, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def plan_rows(path: Any, **overrides: Any) -> np.ndarray:
    """Return the lr rows lrplot plans for a training config (``lrplot from``)."""
    from lrplot.configs import plan_from_file
    from lrplot.engine import simulate

    request = plan_from_file(path, allow_import=True, overrides=overrides)
    return simulate(request.specs[0]).lr
