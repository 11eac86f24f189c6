#!/usr/bin/env bash
# Re-render the README images: bash docs/images.sh (uses the lrplot on PATH).
set -euo pipefail
cd "$(dirname "$0")"
lrplot cosine --T_max 150 -o cosine.png
lrplot onecycle --max_lr 0.1 --epochs 50 --steps-per-epoch 20 --momentum -o onecycle.png
lrplot plateau --patience 5 -o plateau.png
lrplot sequential --schedulers linear:start_factor=0.1,total_iters=5 \
  --schedulers cosine:T_max=95 --milestones 5 -o sequential.png
lrplot multistep --milestones 30,80 --gamma 0.5 --lr 0.1,0.01 -o multistep.png
lrplot compare "cosine:T_max=100" "step:step_size=30,gamma=0.5" "onecycle:max_lr=0.1" \
  --epochs 100 -o compare.png
lrplot cosine --epochs 150 --sweep T_max=50,100,150 -o sweep.png
lrplot multistep --milestones 30,60 --gamma 0.2 --epochs 90 --dataset-size 50000 --batch-size 256 \
  --warmup 500 --warmup-step-per iter -o mixed-warmup.png
lrplot sgdr --T_0 10 --T_mult 2 --epochs 70 --dataset-size 50000 --batch-size 128 \
  --fractional-epoch -o fractional-epoch.png
# the README's verify and resume images, from the repository root (as the README runs
# them); verify exits 1 when it finds what the image shows
cd ..
lrplot verify cosine --T_max 16 --epochs 2 --steps-per-epoch 8 --step-per iter \
  --log tests/data/logs/lightning/bug_epoch/metrics.csv -o docs/verify.png || test $? -eq 1
lrplot check cosine --T_max 16 --epochs 20 --warmup 4 --warmup-start-factor 0.1 \
  --resume-at 10 -o docs/resume.png
