#!/usr/bin/env bash
# Does training under torch.compile (tools/train.py --compile) stop and resume cleanly?
# Trains 1 epoch on 48 images of the real split, then resumes it to 2 epochs in a new process
# (the step is compiled again there). The two mmengine logs go to OUT_DIR.
#   tools/analysis_tools/compile_resume_check.sh [CONFIG] [OUT_DIR]
set -euo pipefail
CONFIG=${1:-configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py}
OUT_DIR=${2:-docs/benchmarks/compile_resume}
WORK=$(mktemp -d)
OPTS=(train_dataloader.dataset.indices=48 val_dataloader.dataset.indices=16
      train_dataloader.batch_size=16 val_dataloader.batch_size=16
      train_dataloader.num_workers=0 val_dataloader.num_workers=0
      train_dataloader.persistent_workers=False val_dataloader.persistent_workers=False)
python tools/train.py "$CONFIG" --img-size 224 --work-dir "$WORK" --compile \
    --cfg-options "${OPTS[@]}" train_cfg.max_epochs=1
python tools/train.py "$CONFIG" --img-size 224 --work-dir "$WORK" --compile --resume \
    --cfg-options "${OPTS[@]}" train_cfg.max_epochs=2
mkdir -p "$OUT_DIR"
for log in "$WORK"/2*/2*.log; do cp "$log" "$OUT_DIR/"; done
grep -h "compiled\|resumed epoch\|Epoch(train)" "$OUT_DIR"/2*.log
test -f "$WORK/epoch_2.pth" && echo "resumed under compile: OK"
rm -rf "$WORK"
