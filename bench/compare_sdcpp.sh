#!/usr/bin/env bash
# UNet step and VAE decode times of `fmserve imagine` against stable-diffusion.cpp's sd-cli on the same checkpoint,
# runs alternating in the same minutes (the machine is shared: read the spread across rounds, not one figure).
# Prints one JSON line per run, then the medians and the ratios (sd.cpp's time / ours: above 1 = fmserve faster).
# end_to_end_s is the whole command's wall time (load, text encoder, sampling, decode, writing the PNG): with -n 1 on
# an SD 2.x checkpoint (--shape sd2.1, SD-Turbo's shape) it is the one-step turbo path.
#
#   SD_CLI=/path/to/sd-cli bench/compare_sdcpp.sh [-t THREADS] [-s SIZE] [-n STEPS] [-r ROUNDS] CHECKPOINT.safetensors
#
# A real-shape checkpoint with formula weights: build/bin/fmserve model synth --shape sd1.5 --type F16 -o sd15.safetensors
# Both run txt2img at SIZE x SIZE with cfg 1 (one UNet call per step), Euler, seed 42. FMSERVE (default
# build/bin/fmserve) names fmserve's binary; sd-cli is built outside this repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fmserve=${FMSERVE:-$here/../build/bin/fmserve}
sdcli=${SD_CLI:?set SD_CLI to stable-diffusion.cpp\'s sd-cli binary}
threads=2 size=512 steps=1 rounds=2
while getopts "t:s:n:r:" opt; do
  case $opt in
    t) threads=$OPTARG ;; s) size=$OPTARG ;; n) steps=$OPTARG ;; r) rounds=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: SD_CLI=... $0 [-t T] [-s SIZE] [-n STEPS] [-r ROUNDS] CHECKPOINT" >&2; exit 2; }
ckpt=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# "a photo of a cat" as CLIP ids, BOS .. EOS and EOS padding to 77 (the text does not change the work done).
{ printf '49406 320 1125 539 320 2368 49407'; for _ in $(seq 70); do printf ' 49407'; done; echo; } > "$work/tokens.txt"

function median_of { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

fm_step=() fm_vae=() sd_step=() sd_vae=() fm_e2e=() sd_e2e=()
for ((r = 1; r <= rounds; r++)); do
  t0=$(date +%s.%N)
  log=$("$fmserve" imagine -m "$ckpt" --tokens-file "$work/tokens.txt" --seed 42 --steps "$steps" -W "$size" -H "$size" \
        --cfg 1 --sampler euler -t "$threads" --progress none -o "$work/fm.png" 2>&1 | tail -1)
  e2e=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  sampling=$(grep -o 'sampling [0-9.e+-]*' <<<"$log" | cut -d' ' -f2)
  decode=$(grep -o 'decode [0-9.e+-]*' <<<"$log" | cut -d' ' -f2)
  step=$(awk -v s="$sampling" -v n="$steps" 'BEGIN {print s / n}')
  fm_step+=("$step") fm_vae+=("$decode") fm_e2e+=("$e2e")
  echo "{\"engine\":\"fmserve\",\"round\":$r,\"size\":$size,\"unet_step_s\":$step,\"vae_decode_s\":$decode,\"end_to_end_s\":$e2e}"
  t0=$(date +%s.%N)
  log=$("$sdcli" -m "$ckpt" -p "a photo of a cat" -W "$size" -H "$size" --steps "$steps" --cfg-scale 1 \
        --sampling-method euler --scheduler discrete --rng cuda --seed 42 -t "$threads" -o "$work/sd.png" 2>&1)
  e2e=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  sampling=$(grep -o 'sampling completed, taking [0-9.]*' <<<"$log" | awk '{print $4}')
  decode=$(grep -o 'decoded, taking [0-9.]*' <<<"$log" | awk '{print $3}')
  [ -n "$sampling" ] && [ -n "$decode" ] || { echo "sd-cli failed:" >&2; tail -5 <<<"$log" >&2; exit 1; }
  step=$(awk -v s="$sampling" -v n="$steps" 'BEGIN {print s / n}')
  sd_step+=("$step") sd_vae+=("$decode") sd_e2e+=("$e2e")
  echo "{\"engine\":\"stable-diffusion.cpp\",\"round\":$r,\"size\":$size,\"unet_step_s\":$step,\"vae_decode_s\":$decode,\"end_to_end_s\":$e2e}"
done
fs=$(printf '%s\n' "${fm_step[@]}" | median_of) fv=$(printf '%s\n' "${fm_vae[@]}" | median_of)
ss=$(printf '%s\n' "${sd_step[@]}" | median_of) sv=$(printf '%s\n' "${sd_vae[@]}" | median_of)
fe=$(printf '%s\n' "${fm_e2e[@]}" | median_of) se=$(printf '%s\n' "${sd_e2e[@]}" | median_of)
echo "{\"checkpoint\":\"$(basename "$ckpt")\",\"size\":$size,\"threads\":$threads,\"rounds\":$rounds,\"fmserve_unet_step_s\":$fs,\"sdcpp_unet_step_s\":$ss,\"unet_speedup\":$(awk -v a="$ss" -v b="$fs" 'BEGIN {printf "%.2f", a / b}'),\"fmserve_vae_decode_s\":$fv,\"sdcpp_vae_decode_s\":$sv,\"vae_speedup\":$(awk -v a="$sv" -v b="$fv" 'BEGIN {printf "%.2f", a / b}'),\"fmserve_end_to_end_s\":$fe,\"sdcpp_end_to_end_s\":$se,\"end_to_end_speedup\":$(awk -v a="$se" -v b="$fe" 'BEGIN {printf "%.2f", a / b}')}"
