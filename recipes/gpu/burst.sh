#!/usr/bin/env bash
# A few minutes of GRCNN training on a lent GPU machine, returning fp16 weights (issue #18).
#
#   recipes/gpu/burst.sh OUT [TRAIN_SECONDS] [IMAGES]
#
# Renders IMAGES training words on every CPU core (`zoo data synth`, seed 41), trains
# recipes/gpu/grcnn_burst.yaml for TRAIN_SECONDS (default 420: the machine's 10-minute command
# limit leaves time to render and ship), stops it with SIGTERM (the trainer saves last.pt at the
# step reached), and writes OUT/grcnn-gpu.safetensors + OUT/grcnn-gpu.yaml (`zoo ship`, measured on
# the held-out rendered words) and OUT/log.jsonl. Continue on the CPU with
#   zoo train recipes/cpu/grcnn_long.yaml --init-from OUT/grcnn-gpu.safetensors
# Runs from the checkout's root with `python3 -m zoo` (no installed `zoo` script needed); nothing
# depends on it.
set -euo pipefail
out=${1:?usage: recipes/gpu/burst.sh OUT [TRAIN_SECONDS] [IMAGES]}
seconds=${2:-420}
images=${3:-1000000}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
zoo=(python3 -m zoo)
mkdir -p "$out"
python3 -c 'import torch; print("device:", torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "| torch", torch.__version__)'
[ -e runs/data/gpu-train.lmdb ] || "${zoo[@]}" data synth --n "$images" --seed 41 --workers "$(nproc)" --out runs/data/gpu-train.lmdb
status=0
# --foreground: the signal goes to the trainer alone, which stops its data loader processes itself
# (signalled too, they would die first and the trainer would report a broken loader, not a stop)
loaders=$(( $(nproc) > 4 ? $(nproc) - 4 : 1 ))
timeout --foreground -s TERM "$seconds" "${zoo[@]}" train recipes/gpu/grcnn_burst.yaml \
    --set data.workers=$loaders || status=$?
# 124: timeout's own code when the trainer exits on the SIGTERM; 143: the trainer's (128 + SIGTERM)
case $status in 0|124|143) ;; *) echo "burst: training failed with exit code $status" >&2; exit "$status" ;; esac
cp runs/gpu/grcnn/log.jsonl "$out/log.jsonl"
"${zoo[@]}" ship runs/gpu/grcnn/last.pt --name grcnn --registry "$out/registry" --benchmark runs/data/synth-val-1k.lmdb
mv "$out/registry/grcnn.safetensors" "$out/grcnn-gpu.safetensors"
mv "$out/registry/grcnn.yaml" "$out/grcnn-gpu.yaml"
rmdir "$out/registry" 2>/dev/null || true
ls -l "$out"
