"""Train a tiny model with a real HF ``Trainer`` from a TrainingArguments JSON; save the lrs.

Run by the config tests in a process of its own (``python hf_train.py`` or, for several
processes, ``python -m torch.distributed.run --nproc_per_node 2 hf_train.py``):
``hf_train.py CONFIG.json SAMPLES OUT.json``. The TrainingArguments are the file's (its
``deepspeed`` file too), on CPU; rank 0 writes the lr every optimizer step used, read at
``on_step_begin`` (before the accumulation window's micro-batches: nothing moves the lr
until that window's optimizer step, DeepSpeed's engine included).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
        out = self.lin(x)
        return {"loss": F.mse_loss(out, labels), "logits": out}


def main(config: str, samples: int, out: str) -> None:
    from transformers import Trainer, TrainerCallback, TrainingArguments

    path = Path(config)
    values = json.loads(path.read_text())
    values["output_dir"] = tempfile.mkdtemp(prefix="hf_")
    if isinstance(values.get("deepspeed"), str):
        values["deepspeed"] = str(path.parent / values["deepspeed"])
    values.update(
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=10_000,
        ddp_backend="gloo",
        dataloader_num_workers=0,
    )
    args = TrainingArguments(**values)
    g = torch.Generator().manual_seed(7)
    xs = torch.randn(samples, 4, generator=g)
    data = [{"x": xs[i], "labels": xs[i].sum().reshape(1)} for i in range(samples)]
    used: list[float] = []

    class _Record(TrainerCallback):
        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):  # type: ignore[no-untyped-def]
            used.append(float(optimizer.param_groups[0]["lr"]))

    trainer = Trainer(model=_Tiny(), args=args, train_dataset=data, callbacks=[_Record()])
    trainer.train()
    if int(os.environ.get("RANK", "0")) == 0:
        Path(out).write_text(
            json.dumps({"lr": used, "max_steps": trainer.state.max_steps, "world": args.world_size})
        )
    if torch.distributed.is_initialized():  # leave the process group before exiting
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
