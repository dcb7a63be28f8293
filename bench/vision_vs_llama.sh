#!/usr/bin/env bash
# Image encode speed of fmserve and of llama.cpp's llama-mtmd-cli on the same text model, projector and image,
# alternating, in the same minutes. Usage:
#   LLAMA_MTMD_CLI=/path/to/llama-mtmd-cli bench/vision_vs_llama.sh TEXT.gguf MMPROJ.gguf IMAGE [ROUNDS]
# e.g. with `fmserve model synth --shape gemma3-siglip-896 --type F16 --text-width 1152 -o siglip.gguf` and
# `fmserve model synth --shape gemma3-1b --type Q4_K_M -o gemma3-1b.gguf`. Prints one JSON line per run.
set -euo pipefail
model="$1"; mmproj="$2"; image="$3"; rounds="${4:-2}"
fmserve="${FMSERVE:-$(dirname "$0")/../build/bin/fmserve}"
llama="${LLAMA_MTMD_CLI:?set LLAMA_MTMD_CLI to a llama-mtmd-cli binary}"
threads="${THREADS:-2}"
for ((r = 1; r <= rounds; r++)); do
  "$fmserve" bench -m "$model" --mmproj "$mmproj" --image "$image" -t "$threads" --repeat 1 --json | tail -n 1
  # llama-mtmd-cli reports its own encode and image-prefill times; one generated token ends the run.
  log=$("$llama" -m "$model" --mmproj "$mmproj" --image "$image" -p "describe" -n 1 -t "$threads" --temp 0 \
        --chat-template gemma 2>&1)
  enc=$(echo "$log" | sed -n 's/.*image slice encoded in \([0-9.]*\) ms.*/\1/p' | tail -n 1)
  dec=$(echo "$log" | sed -n 's/.*image decoded (batch [0-9]*\/[0-9]*) in \([0-9.]*\) ms.*/\1/p' | tail -n 1)
  echo "{\"engine\":\"llama-mtmd-cli\",\"encode_ms\":${enc:-null},\"image_prefill_ms\":${dec:-null}}"
done
