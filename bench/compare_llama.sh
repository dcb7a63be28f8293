#!/usr/bin/env bash
# Prompt and decode speed of fmserve against llama.cpp's llama-bench on the same GGUF files, runs alternating in the
# same minutes (the machine is shared: read the spread across rounds, not one figure). Prints one JSON line per run
# and, per file, the medians and their ratios.
#
#   LLAMA_BENCH=/path/to/llama-bench bench/compare_llama.sh [-t THREADS] [-p PP] [-n TG] [-r ROUNDS] MODEL.gguf...
#
# FMSERVE (default build/bin/fmserve) names fmserve's binary. llama-bench is built outside this repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fmserve=${FMSERVE:-$here/../build/bin/fmserve}
llama=${LLAMA_BENCH:?set LLAMA_BENCH to the llama-bench binary of llama.cpp}
threads=2 pp=128 tg=64 rounds=3
while getopts "t:p:n:r:" opt; do
  case $opt in
    t) threads=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;; r) rounds=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: LLAMA_BENCH=... $0 [-t T] [-p PP] [-n TG] [-r ROUNDS] MODEL.gguf..." >&2; exit 2; }

function median_of { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for model in "$@"; do
  fm_pp=() fm_tg=() ll_pp=() ll_tg=()
  for ((r = 1; r <= rounds; r++)); do
    line=$("$fmserve" bench -m "$model" -t "$threads" --pp "$pp" --tg "$tg" --json 2>/dev/null | tail -1)
    p=$(grep -o '"pp_tokens_per_s":[0-9.e+-]*' <<<"$line" | cut -d: -f2)
    g=$(grep -o '"tg_tokens_per_s":[0-9.e+-]*' <<<"$line" | cut -d: -f2)
    fm_pp+=("$p") fm_tg+=("$g")
    echo "{\"engine\":\"fmserve\",\"model\":\"$(basename "$model")\",\"round\":$r,\"pp\":$p,\"tg\":$g}"
    out=$("$llama" -m "$model" -t "$threads" -p "$pp" -n "$tg" -r 1 -o json 2>/dev/null)
    p=$(node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(r.find(x=>x.n_prompt>0).avg_ts)' <<<"$out")
    g=$(node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(r.find(x=>x.n_gen>0).avg_ts)' <<<"$out")
    ll_pp+=("$p") ll_tg+=("$g")
    echo "{\"engine\":\"llama.cpp\",\"model\":\"$(basename "$model")\",\"round\":$r,\"pp\":$p,\"tg\":$g}"
  done
  fp=$(printf '%s\n' "${fm_pp[@]}" | median_of) ft=$(printf '%s\n' "${fm_tg[@]}" | median_of)
  lp=$(printf '%s\n' "${ll_pp[@]}" | median_of) lt=$(printf '%s\n' "${ll_tg[@]}" | median_of)
  awk -v m="$(basename "$model")" -v fp="$fp" -v ft="$ft" -v lp="$lp" -v lt="$lt" -v t="$threads" -v pp="$pp" -v tg="$tg" 'BEGIN {
    printf "{\"summary\":\"%s\",\"threads\":%d,\"pp\":%d,\"tg\":%d,\"fmserve_pp\":%.1f,\"llama_pp\":%.1f,\"pp_ratio\":%.2f,\"fmserve_tg\":%.1f,\"llama_tg\":%.1f,\"tg_ratio\":%.2f}\n",
      m, t, pp, tg, fp, lp, fp / lp, ft, lt, ft / lt }'
done
