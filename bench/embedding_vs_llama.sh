#!/usr/bin/env bash
# Embedding throughput of fmserve and of llama.cpp's llama-embedding on the same model and texts, alternating,
# in the same minutes. Usage: LLAMA_EMBEDDING=/path/to/llama-embedding bench/embedding_vs_llama.sh MODEL.gguf TEXTS.txt [ROUNDS]
# TEXTS has one input per line. Prints one JSON line per run and a summary line.
set -euo pipefail
model="$1"; texts="$2"; rounds="${3:-2}"
fmserve="${FMSERVE:-$(dirname "$0")/../build/bin/fmserve}"
llama="${LLAMA_EMBEDDING:?set LLAMA_EMBEDDING to a llama-embedding binary}"
threads="${THREADS:-2}"
n_texts=$(grep -c . "$texts")
for ((r = 1; r <= rounds; r++)); do
  fm=$("$fmserve" bench -m "$model" --embed "$texts" -t "$threads" --json | tail -n 1)
  echo "$fm"
  # llama-embedding: every line a sequence, packed into batches of LLAMA_UBATCH tokens; its own timer covers the passes.
  ub="${LLAMA_UBATCH:-64}"  # llama-embedding packs sequences into one attention block: small ubatches run fastest
  log=$("$llama" -m "$model" -f "$texts" -t "$threads" -b "$ub" -ub "$ub" -c "$ub" --embd-normalize -1 \
        --embd-output-format "" 2>&1 >/dev/null)
  ms=$(echo "$log" | sed -n 's/.*prompt eval time = *\([0-9.]*\) ms.*/\1/p' | tail -n 1)
  echo "{\"engine\":\"llama-embedding\",\"texts\":$n_texts,\"prompt_eval_ms\":$ms,\"texts_per_s\":$(python3 -c "print($n_texts / ($ms / 1000))")}"
done
