#!/usr/bin/env bash
# Training (scripts/gpu/train.py) as one command on a lent GPU machine (PyTorch there, no Rust):
# the export made here (`make gpu-export`) travels as a carried path (runs/gpu), results come
# back under $OUT. INIT is the model the export was made with (the config's training.init).
# Usage: bash scripts/gpu/run_on_device.sh INIT MINUTES [train.py options...]
set -euo pipefail
init=${1:?init model}
minutes=${2:?minutes}
shift 2
out=${OUT:-runs/gpu/out}
mkdir -p "$out"
nvidia-smi -L || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
PYTHONUNBUFFERED=1 python3 -W ignore scripts/gpu/train.py \
  --data runs/gpu/data.safetensors.gz \
  --init "$init" \
  --out "$out" --minutes "$minutes" "$@" 2>&1 | tee "$out/train.log"
