// Concurrent streams at temperature 1 against greedy, alternating in the same minutes: what sampling costs in a
// serving step. Prints one JSON line per round and a summary.
//
//   node bench/sampling_bench.mjs MODEL.gguf [STREAMS=8] [ROUNDS=3]      (env: FMSERVE, THREADS, GEN_TOKENS=160)
//
// Each round sends STREAMS chat completions at once (~128 prompt tokens each, GEN_TOKENS generated: a random-weight
// model practically never ends early) at temperature 0, then the same at temperature 1 (no top-k/top-p/min-p: the
// API's defaults), and reports generated tokens per second of wall time for each.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fmserve = process.env.FMSERVE ?? join(here, "../build/bin/fmserve");
const model = process.argv[2];
const streams = Number(process.argv[3] ?? 8);
const rounds = Number(process.argv[4] ?? 3);
const genTokens = Number(process.env.GEN_TOKENS ?? 160);
if (!model) throw new Error("usage: node bench/sampling_bench.mjs MODEL.gguf [STREAMS] [ROUNDS]");
const work = mkdtempSync(join(tmpdir(), "fmserve-sampling-bench-"));
const dataDir = join(work, "data");
const config = join(work, "config.yaml");
writeFileSync(config, `models:\n  - name: m\n    context: 512\n    branches: {latest: ${model}}\n`);
const key = execFileSync(fmserve, ["keys", "create", "--data-dir", dataDir, "--folder", "bench"], { encoding: "utf8" }).trimEnd().split("\n").pop();
const child = spawn(fmserve, ["serve", "--config", config, "--data-dir", dataDir, "--port", "0", "-t", process.env.THREADS ?? "2"],
                    { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`fmserve did not start: ${log}`)), 120000);
  child.stderr.on("data", (d) => {
    log += d;
    const m = log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
});

const words = "the of and to in is was for on that with as by at from his her an are were which be this had not but".split(" ");
let promptWords = 100;  // calibrated below against the model's tokenizer so that prompts are ~128 tokens
const prompt = (i) => {
  let s = `Request ${i}:`;
  let x = (i * 2654435761) % 4294967296;
  for (let k = 0; k < promptWords; k++) { x = (x * 1103515245 + 12345) % 2147483648; s += " " + words[x % words.length]; }
  return s;
};
async function calibrate() {
  for (let round = 0; round < 3; round++) {
    let total = 0;
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${url}/foundationModels/v1/tokenizeCompletion`, {
        method: "POST", headers: { Authorization: `Api-Key ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ modelUri: "gpt://bench/m/latest", messages: [{ role: "user", text: prompt(i) }] }) });
      total += (await res.json()).tokens.length;
    }
    promptWords = Math.max(1, Math.round(promptWords * 128 / (total / 8)));
  }
}

async function run(temperature, round) {
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: streams }, async (_, i) => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt://bench/m/latest", messages: [{ role: "user", content: prompt(1000 * round + i) }],
                             max_tokens: genTokens, temperature, seed: i }),
    });
    const body = await res.json();
    if (!body.usage) throw new Error(`request failed: ${JSON.stringify(body)}`);
    return body.usage.completion_tokens;
  }));
  const seconds = (performance.now() - t0) / 1000;
  const generated = results.reduce((a, b) => a + b, 0);
  return { generated, seconds, tokens_per_s: generated / seconds };
}

try {
  await calibrate();  // also loads the model
  await run(0, -1);
  const greedy = [], sampled = [];
  for (let r = 0; r < rounds; r++) {
    const g = await run(0, r), s = await run(1, r);
    greedy.push(g.tokens_per_s);
    sampled.push(s.tokens_per_s);
    console.log(JSON.stringify({ round: r, streams, greedy_tokens_per_s: +g.tokens_per_s.toFixed(1), greedy_generated: g.generated,
                                 temperature1_tokens_per_s: +s.tokens_per_s.toFixed(1), temperature1_generated: s.generated }));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(JSON.stringify({ summary: "sampling", streams, greedy_median: +median(greedy).toFixed(1),
                               temperature1_median: +median(sampled).toFixed(1), ratio: +(median(sampled) / median(greedy)).toFixed(3) }));
} finally {
  child.kill("SIGTERM");
}
