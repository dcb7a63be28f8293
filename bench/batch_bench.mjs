// Batch throughput and interactive latency under batch load, printed as JSON lines.
//
//   node bench/batch_bench.mjs MODEL.gguf [REQUESTS]
//   env: FMSERVE, LLAMA_SERVER, THREADS, PARALLEL, TTFT_SAMPLES (default 32), ONLY=ttft (skip 1 and 3)
//
// 1. fmserve: REQUESTS dataset rows (~128 prompt tokens each, 64 generated, greedy) as one completionBatch task;
//    generated tokens/s over the task's wall time.
// 2. fmserve: time to first token (median, p90) of TTFT_SAMPLES interactive streamed completions, one at a time,
//    on an idle server, then while a large batch task runs (at background priority); two rounds of each,
//    alternating, so that a change in the machine's load shows up as a difference between rounds.
// 3. llama.cpp's llama-server -np PARALLEL (when LLAMA_SERVER names the binary): the same REQUESTS sent PARALLEL at a
//    time to /v1/chat/completions; generated tokens/s over the wall time. Same model file, same minutes.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fmserve = process.env.FMSERVE ?? join(here, "../build/bin/fmserve");
const model = process.argv[2];
const requests = Number(process.argv[3] ?? 1000);
const threads = process.env.THREADS ?? "2";
const parallel = Number(process.env.PARALLEL ?? 8);
const genTokens = 64;
const ttftSamples = Number(process.env.TTFT_SAMPLES ?? 32);
const only = process.env.ONLY ?? "";
if (!model) throw new Error("usage: node bench/batch_bench.mjs MODEL.gguf [REQUESTS]");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), "fmserve-batch-bench-"));

// ~128 tokens of ordinary English, varied per request so that no prompt is a prefix of another.
const words = "the of and to in is was for on that with as by at from his her an are were which be this had not but what all when".split(" ");
let promptWords = 100;  // calibrated against the model's tokenizer so that prompts are ~128 tokens
function prompt(i) {
  let s = `Request ${i}: summarise the following notes.`;
  let x = i * 2654435761 % 4294967296;
  for (let k = 0; k < promptWords; k++) { x = (x * 1103515245 + 12345) % 2147483648; s += " " + words[x % words.length]; }
  return s;
}

function start(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${log}`)), 120000);
    child.stderr.on("data", (d) => {
      log += d;
      const m = ready(log);
      if (m) { clearTimeout(timer); resolve({ child, url: m }); }
    });
    child.on("exit", (code) => reject(new Error(`${cmd} exited ${code}: ${log}`)));
  });
}
const stop = (child) => new Promise((r) => { child.on("exit", r); child.kill("SIGTERM"); setTimeout(() => child.kill("SIGKILL"), 10000); });

async function fmserveRuns() {
  const dataDir = join(work, "data");
  const config = join(work, "config.yaml");
  writeFileSync(config, `max_running: 64\nkv_budget: 4GiB\n${process.env.LINES_IN_FLIGHT ? `batch: {lines_in_flight: ${process.env.LINES_IN_FLIGHT}}\n` : ""}models:\n  - name: m\n    context: 512\n    branches: {latest: ${model}}\n`);
  const key = execFileSync(fmserve, ["keys", "create", "--data-dir", dataDir, "--folder", "bench"], { encoding: "utf8" }).trimEnd().split("\n").pop();
  const { child, url } = await start(fmserve, ["serve", "--config", config, "--data-dir", dataDir, "--port", "0", "-t", threads],
                                     (log) => log.match(/listening on (http:\/\/[0-9.]+:\d+)/)?.[1]);
  const call = async (path, body, method = "POST") => {
    const res = await fetch(url + path, { method, headers: { Authorization: `Api-Key ${key}`, "Content-Type": "application/json" },
                                          body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
    return res.json();
  };
  const dataset = async (n) => {
    const { datasetId } = await call("/datasets/v1/datasets", { name: "bench", folderId: "bench", taskType: "TextToTextGenerationRequest", uploadFormat: "jsonlines" });
    const { uploadUrl } = await call(`/datasets/v1/datasets/${datasetId}:getUploadDraftUrl`, { sizeBytes: "0" });
    const rows = Array.from({ length: n }, (_, i) => JSON.stringify({ request: [{ role: "user", text: prompt(i) }] })).join("\n");
    await fetch(uploadUrl, { method: "PUT", body: rows });
    const op = await call(`/datasets/v1/datasets/${datasetId}:validate`, {});
    for (let i = 0; i < 600; i++) { if ((await call(`/operations/${op.id}`, undefined, "GET")).done) break; await sleep(100); }
    return datasetId;
  };
  const batch = (source) => call("/foundationModels/v1/completionBatch", { modelUri: "gpt://bench/m/latest", sourceDatasetId: source, completionOptions: { temperature: 0, maxTokens: String(genTokens) } });
  const waitOp = async (id, limitMs) => {
    const deadline = Date.now() + limitMs;
    for (;;) { const op = await call(`/operations/${id}`, undefined, "GET"); if (op.done || Date.now() > deadline) return op; await sleep(200); }
  };
  const ttft = async (i) => {  // one streamed interactive completion: seconds to its first text
    const t0 = performance.now();
    const res = await fetch(url + "/foundationModels/v1/completion", { method: "POST", headers: { Authorization: `Api-Key ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ modelUri: "gpt://bench/m/latest", completionOptions: { stream: true, temperature: 0, maxTokens: "8" }, messages: [{ role: "user", text: prompt(100000 + i) }] }) });
    const reader = res.body.getReader();
    let first = null;
    for (;;) { const { done, value } = await reader.read(); if (first === null && value?.length) first = (performance.now() - t0) / 1000; if (done) break; }
    return first;
  };
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  try {
    await ttft(-1);  // loads the model
    for (let round = 0; round < 3; round++) {
      let total = 0;
      for (let i = 0; i < 16; i++)
        total += (await call("/foundationModels/v1/tokenizeCompletion", { modelUri: "gpt://bench/m/latest", messages: [{ role: "user", text: prompt(i) }] })).tokens.length;
      promptWords = Math.max(1, Math.round(promptWords * 128 / (total / 16)));
    }
    if (only !== "ttft") await throughput();
    // 2. interactive time to first token: idle, then under a batch; twice
    const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * q))]; };
    for (let round = 0; round < 2; round++) {
      const idle = [];
      for (let i = 0; i < ttftSamples; i++) idle.push(await ttft(1000 * round + i));
      const load = await batch(await dataset(Math.max(requests, 400)));
      await sleep(3000);
      const loaded = [];
      for (let i = 0; i < ttftSamples; i++) loaded.push(await ttft(1000 * round + 500 + i));
      const progress = (await call(`/operations/${load.id}`, undefined, "GET")).metadata;
      await call(`/operations/${load.id}:cancel`, undefined, "GET");
      await waitOp(load.id, 30000);
      console.log(JSON.stringify({ engine: "fmserve", bench: "interactive_ttft", round, samples: ttftSamples,
                                   idle_median_s: +median(idle).toFixed(3), idle_p90_s: +quantile(idle, 0.9).toFixed(3),
                                   under_batch_median_s: +median(loaded).toFixed(3), under_batch_p90_s: +quantile(loaded, 0.9).toFixed(3),
                                   ratio: +(median(loaded) / median(idle)).toFixed(2), batch_lines_done_meanwhile: progress?.completedBatches }));
    }
  } finally {
    await stop(child);
  }

  // 1. throughput, through the OpenAI Batch API (its output lines carry each line's token usage)
  async function throughput() {
    const lines = Array.from({ length: requests }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: "POST", url: "/v1/chat/completions",
      body: { model: "gpt://bench/m/latest", messages: [{ role: "user", content: prompt(i) }], max_tokens: genTokens, temperature: 0 } })).join("\n");
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob([lines]), "input.jsonl");
    const file = await (await fetch(url + "/v1/files", { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: form })).json();
    const t0 = performance.now();
    const created = await call("/v1/batches", { input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    let b = created;
    for (let i = 0; i < 36000 && !["completed", "failed", "cancelled"].includes(b.status); i++) { await sleep(100); b = await call(`/v1/batches/${created.id}`, undefined, "GET"); }
    const seconds = (performance.now() - t0) / 1000;
    if (b.status !== "completed") throw new Error(`the batch ended ${JSON.stringify(b)}`);
    const outText = await (await fetch(`${url}/v1/files/${b.output_file_id}/content`, { headers: { Authorization: `Bearer ${key}` } })).text();
    if (!outText.trim()) {
      const errors = await (await fetch(`${url}/v1/files/${b.error_file_id}/content`, { headers: { Authorization: `Bearer ${key}` } })).text();
      throw new Error(`no line succeeded: ${errors.slice(0, 600)}`);
    }
    const out = outText.trimEnd().split("\n").map((l) => JSON.parse(l));
    const generated = out.reduce((sum, o) => sum + o.response.body.usage.completion_tokens, 0);
    const promptTokens = out.reduce((sum, o) => sum + o.response.body.usage.prompt_tokens, 0);
    console.log(JSON.stringify({ engine: "fmserve", bench: "batch_throughput", requests, status: b.status, completed: b.request_counts.completed, seconds: +seconds.toFixed(2),
                                 prompt_tokens_avg: +(promptTokens / out.length).toFixed(1), generated_tokens: generated, tokens_per_s: +(generated / seconds).toFixed(1) }));
  }
}

async function llamaRun() {
  const bin = process.env.LLAMA_SERVER;
  if (!bin) return;
  const { child, url } = await start(bin, ["-m", model, "-np", String(parallel), "-c", String(parallel * 512), "-t", threads, "--port", "0", "--host", "127.0.0.1"],
                                     (log) => log.match(/server is listening on (http:\/\/[0-9.]+:\d+)/)?.[1]);
  try {
    let next = 0, generated = 0;
    const worker = async () => {
      while (next < requests) {
        const i = next++;
        const res = await fetch(url + "/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ messages: [{ role: "user", content: prompt(i) }], max_tokens: genTokens, temperature: 0 }) });
        generated += (await res.json()).usage.completion_tokens;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: parallel }, worker));
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ engine: "llama-server", bench: "batch_throughput", requests, parallel, seconds: +seconds.toFixed(2), generated_tokens: generated,
                                 tokens_per_s: +(generated / seconds).toFixed(1) }));
  } finally {
    await stop(child);
  }
}

if (process.env.SKIP_FMSERVE !== "1") await fmserveRuns();
else promptWords = Number(process.env.PROMPT_WORDS ?? 100);
if (only !== "ttft") await llamaRun();
