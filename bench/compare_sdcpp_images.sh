#!/usr/bin/env bash
# fmserve imagine's images against stable-diffusion.cpp's sd-cli on the same checkpoint, for each sampler, a
# non-square size and classifier-free guidance with a negative prompt: prints, per case, the share of 8-bit values
# equal and within 2 levels, as JSON lines.
#
#   SD_CLI=/path/to/sd-cli bench/compare_sdcpp_images.sh CHECKPOINT TOKENIZER_DIR
#
# With the image-generation fixtures' checkpoint (build/bin/fmserve model synth --shape sd1-fixture -o tiny.safetensors)
# every case runs in seconds. TOKENIZER_DIR holds CLIP's vocab.json and merges.txt. sd-cli is built outside this
# repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fmserve=${FMSERVE:-$here/../build/bin/fmserve}
sdcli=${SD_CLI:?set SD_CLI to stable-diffusion.cpp\'s sd-cli binary}
[ $# -eq 2 ] || { echo "usage: SD_CLI=... $0 CHECKPOINT TOKENIZER_DIR" >&2; exit 2; }
ckpt=$1 tokenizer=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prompt="a red fox sitting in the snow"
compare='
const fs = require("fs"), zlib = require("zlib");
function pixels(file) {
  const b = fs.readFileSync(file); let pos = 8, w = 0, h = 0, bpp = 3; const idat = [];
  while (pos < b.length) {
    const len = b.readUInt32BE(pos), type = b.toString("latin1", pos + 4, pos + 8), d = b.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") { w = d.readUInt32BE(0); h = d.readUInt32BE(4); bpp = d[9] === 6 ? 4 : 3; }
    if (type === "IDAT") idat.push(d);
    pos += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat)), s = w * bpp, out = Buffer.alloc(s * h);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (s + 1)];
    for (let x = 0; x < s; x++) {
      const a = x >= bpp ? out[y * s + x - bpp] : 0, up = y ? out[(y - 1) * s + x] : 0, c = x >= bpp && y ? out[(y - 1) * s + x - bpp] : 0;
      const p = a + up - c, pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c);
      out[y * s + x] = (raw[y * (s + 1) + 1 + x] + [0, a, up, (a + up) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? up : c][f]) & 255;
    }
  }
  return { w, h, v: bpp === 4 ? out.filter((_, i) => i % 4 !== 3) : out };
}
const [a, b] = [pixels(process.argv[1]), pixels(process.argv[2])];
if (a.w !== b.w || a.h !== b.h) throw new Error("sizes differ");
let exact = 0, close = 0;
for (let i = 0; i < a.v.length; i++) { const d = Math.abs(a.v[i] - b.v[i]); exact += d === 0; close += d <= 2; }
console.log(JSON.stringify({ size: `${a.w}x${a.h}`, exact: exact / a.v.length, within_2: close / a.v.length }));
'
# name sd-cli-sampler fmserve-sampler steps cfg seed width height negative-prompt
cases=(
  "euler euler euler 2 1 42 64 64 -"
  "euler_a euler_a euler_a 3 1 7 64 64 -"
  "dpmpp2m dpm++2m dpmpp2m 4 1 123 64 128 -"
  "cfg euler euler 2 7.5 42 64 64 blurry"
)
for c in "${cases[@]}"; do
  read -r name sd_sampler fm_sampler steps cfg seed w h neg <<<"$c"
  [ "$neg" = "-" ] && neg=""
  "$sdcli" -m "$ckpt" -p "$prompt" -n "$neg" -W "$w" -H "$h" --steps "$steps" --cfg-scale "$cfg" --sampling-method "$sd_sampler" \
    --scheduler discrete --rng cuda --seed "$seed" -t 2 --disable-image-metadata -o "$work/sd.png" > "$work/sd.log" 2>&1
  "$fmserve" imagine -m "$ckpt" -p "$prompt" -n "$neg" --tokenizer "$tokenizer" -W "$w" -H "$h" --steps "$steps" --cfg "$cfg" \
    --sampler "$fm_sampler" --seed "$seed" --progress none -o "$work/fm.png" 2>/dev/null
  echo "{\"case\":\"$name\",\"result\":$(node -e "$compare" "$work/sd.png" "$work/fm.png")}"
done
