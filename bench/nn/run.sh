#!/usr/bin/env bash
# Epoch time of hone's neural models against PyTorch CPU on the same shapes (issue 15):
# 100k windows × seq_len 32 × 20 features, batch 256, AdamW lr 1e-3, binary target, and the
# same thread count for both (2 here). LSTM/GRU: 2 layers × 64; 1-D CNN: channels [64, 64],
# kernel 3, causal; MLP: [64, 64] on the last row. Needs .tools/torch-venv (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads="${THREADS:-2}"
epochs="${EPOCHS:-3}"
export RAYON_NUM_THREADS="$threads"
cargo build --release -q -p hone-bench
for arch in lstm gru cnn1d mlp; do
  target/release/hone-bench nn-epoch "$arch" 100000 20 32 "$epochs" | tail -1
  .tools/torch-venv/bin/python bench/nn/torch_epoch.py "$arch" 100000 20 32 "$epochs" "$threads" | tail -1
done
