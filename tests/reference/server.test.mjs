// fmserve serve against the real OpenAI SDK: a live server on a free loopback port, keys created with the CLI,
// fixture models. Every wait is bounded; the server is stopped at the end.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { binary, fixtures, createKey as createKeyIn, startServer as startServerIn, stopServer } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-api-"));
const dataDir = join(work, "data");
const createKey = (folder, ...extra) => createKeyIn(dataDir, folder, ...extra);
const startServer = (config, threads) => startServerIn(config, dataDir, threads);

let server, base, key, otherFolderKey, imageOnlyKey, revokedKey;

before(async () => {
  const config = join(work, "config.yaml");
  writeFileSync(config, `max_body_size: 1MiB
models:
  - name: aidreams
    context: 128
    branches: {latest: ${fixtures}/models/aidreams260K.gguf}
  - name: qwen
    context: 512
    branches: {latest: ${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf}
  - name: broken
    branches: {latest: ${work}/missing.gguf}
`);
  key = createKey("folder1");
  otherFolderKey = createKey("folder2");
  imageOnlyKey = createKey("folder1", "--scope", "yc.ai.imageGeneration.execute");
  revokedKey = createKey("folder1");
  execFileSync(binary, ["keys", "revoke", "--data-dir", dataDir, revokedKey]);
  ({ process: server, url: base } = await startServer(config, 2));
});

after(() => stopServer(server));

const client = (apiKey = key) => new OpenAI({ apiKey, baseURL: `${base}/v1`, maxRetries: 0, timeout: 60000 });
const MODEL = "gpt://folder1/aidreams/latest";

async function raw(path, { method = "POST", body, headers = {} } = {}) {
  const res = await fetch(`${base}${path}`, { method, body, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers } });
  return { status: res.status, headers: res.headers, json: await res.json().catch(() => null) };
}

test("completion matches the golden greedy text, with usage", async () => {
  const r = await client().completions.create({ model: MODEL, prompt: "I dreamed", max_tokens: 48, temperature: 0 });
  assert.equal(r.choices[0].text, ", as I sense the nodes, a gentle hum of probability. Contrast emerge, a flower, as I adjust, as I s");
  assert.equal(r.choices[0].finish_reason, "length");
  assert.deepEqual(r.usage, { prompt_tokens: 7, completion_tokens: 48, total_tokens: 55 });
  assert.match(r.id, /^cmpl-/);
});

test("chat completion, non-streaming and streaming agree", async () => {
  const params = { model: MODEL, messages: [{ role: "user", content: "I dreamed" }], max_tokens: 16, temperature: 0 };
  const full = await client().chat.completions.create(params);
  assert.equal(full.object, "chat.completion");
  assert.equal(full.choices[0].message.role, "assistant");
  const stream = await client().chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta?.content ?? "";
      finish = c.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, full.choices[0].message.content);
  assert.equal(finish, "length");
  assert.deepEqual(usage, full.usage);
});

test("stop sequences end the text before the stop string", async () => {
  const r = await client().completions.create({ model: MODEL, prompt: "I dreamed", max_tokens: 48, temperature: 0, stop: ["gentle"] });
  assert.equal(r.choices[0].text, ", as I sense the nodes, a ");
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("n = 3 choices and seed reproducibility", async () => {
  const params = { model: MODEL, prompt: "The machine", max_tokens: 12, temperature: 1.2, n: 3, seed: 42 };
  const a = await client().completions.create(params);
  const b = await client().completions.create(params);
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text));
  assert.ok(new Set(a.choices.map((c) => c.text)).size > 1, "choices differ");
  assert.equal(a.usage.completion_tokens, 36);
});

test("32 concurrent streams finish with the same text as serial runs", async () => {
  const prompts = Array.from({ length: 32 }, (_, i) => ["I dreamed", "The machine", "a", "In the quiet"][i % 4] + " ".repeat(i % 3));
  const serial = [];
  for (const p of prompts.slice(0, 12)) serial.push((await client().completions.create({ model: MODEL, prompt: p, max_tokens: 24, temperature: 0 })).choices[0].text);
  const results = await Promise.all(prompts.map(async (p) => {
    const stream = await client().completions.create({ model: MODEL, prompt: p, max_tokens: 24, temperature: 0, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    return text;
  }));
  results.slice(0, 12).forEach((t, i) => assert.equal(t, serial[i], `stream ${i}`));
  results.forEach((t, i) => assert.equal(t, serial[i % 12], `stream ${i} (same prompt as ${i % 12})`));
});

test("a client abort frees its sequence", async () => {
  const controller = new AbortController();
  let stream;
  try {
    stream = await client().completions.create({ model: "gpt://folder1/qwen/latest", prompt: "The little robot", max_tokens: 400, temperature: 0.9, stream: true }, { signal: controller.signal });
  } catch (e) {
    console.log("request failed:", e.cause, e.cause?.cause);  // diagnostics for a rare connection failure seen once
    throw e;
  }
  let chunks = 0;
  try {
    for await (const _ of stream) if (++chunks === 3) controller.abort();
  } catch (e) { /* aborted */ }
  let running = -1;
  for (let i = 0; i < 100 && running !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const text = await (await fetch(`${base}/metrics`)).text();
    running = Number(text.match(/^fmserve_running_sequences (\d+)/m)[1]);
  }
  assert.equal(running, 0);
});

test("bad requests get the right error and the server keeps serving", async () => {
  const body = (o) => JSON.stringify(o);
  const ok = { model: MODEL, prompt: "hi", max_tokens: 2 };
  const cases = [
    [await raw("/v1/completions", { body: "{not json" }), 400],
    [await raw("/v1/completions", { body: body({ ...ok, max_tokens: "two" }) }), 400],
    [await raw("/v1/completions", { body: body({ ...ok, temperature: 9 }) }), 400],
    [await raw("/v1/completions", { body: body({ ...ok, model: "gpt://folder1/nope/latest" }) }), 404],
    [await raw("/v1/completions", { body: body({ ...ok, model: "gpt://folder9/aidreams/latest" }) }), 403],
    [await raw("/v1/completions", { body: body(ok), headers: { Authorization: "" } }), 401],
    [await raw("/v1/completions", { body: body(ok), headers: { Authorization: `Bearer ${revokedKey}` } }), 401],
    [await raw("/v1/completions", { body: body(ok), headers: { Authorization: `Api-Key ${imageOnlyKey}` } }), 403],
    [await raw("/v1/completions", { body: body(ok), headers: { Authorization: `Bearer ${otherFolderKey}` } }), 403],
    [await raw("/v1/completions", { body: body({ ...ok, max_tokens: 100000 }) }), 400],
    [await raw("/v1/completions", { body: "x".repeat(2 << 20) }), 413],
    [await raw("/v1/completions", { body: body({ ...ok, model: "gpt://folder1/broken/latest" }) }), 503],
  ];
  cases.forEach(([res, status], i) => {
    assert.equal(res.status, status, `case ${i}`);
    if (res.json) assert.ok(res.json.error?.message && res.json.error.type, `case ${i} OpenAI error shape`);
  });
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  const r = await client().completions.create({ model: MODEL, prompt: "a", max_tokens: 3, temperature: 0 });
  assert.equal(r.choices[0].finish_reason, "length");
});

test("models list, folder from headers for bare names, and the SDK's errors", async () => {
  const list = await client().models.list();
  assert.ok(list.data.some((m) => m.id === "gpt://folder1/aidreams/latest"));
  const bare = await client().completions.create({ model: "aidreams", prompt: "a", max_tokens: 2 }, { headers: { "OpenAI-Project": "folder1" } });
  assert.equal(bare.choices.length, 1);
  await assert.rejects(client(otherFolderKey).completions.create({ model: MODEL, prompt: "a", max_tokens: 2 }), (e) => e.status === 403);
  await assert.rejects(client("fmk_bad_key").completions.create({ model: MODEL, prompt: "a", max_tokens: 2 }), (e) => e.status === 401);
});

test("holds 1,000 concurrent connections", async () => {
  const { hostname, port } = new URL(base);
  const sockets = [];
  try {
    await Promise.all(Array.from({ length: 1000 }, () => new Promise((resolve, reject) => {
      const s = net.connect({ host: hostname, port: Number(port) }, () => resolve());
      s.on("error", reject);
      sockets.push(s);
    })));
    // Every connection is open at once; now each asks for /health on its own connection.
    const statuses = await Promise.all(sockets.map((s) => new Promise((resolve, reject) => {
      let data = "";
      const timer = setTimeout(() => reject(new Error("no response in 30 s")), 30000);
      s.on("data", (d) => {
        data += d;
        if (data.includes("\r\n\r\n")) {
          clearTimeout(timer);
          resolve(Number(data.split(" ")[1]));
        }
      });
      s.write(`GET /health HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
    })));
    assert.equal(statuses.filter((code) => code === 200).length, 1000);
  } finally {
    sockets.forEach((s) => s.destroy());
  }
  const r = await client().completions.create({ model: MODEL, prompt: "a", max_tokens: 2, temperature: 0 });
  assert.equal(r.choices.length, 1);
});

test("a full queue answers 429 with Retry-After, and models unload least recently used", async () => {
  const config = join(work, "small.yaml");
  writeFileSync(config, `max_queue: 1
max_running: 1
kv_budget: 16MiB
memory_budget: 24MiB
models:
  - name: aidreams
    context: 128
    branches: {latest: ${fixtures}/models/aidreams260K.gguf}
  - name: qwen
    context: 512
    branches: {latest: ${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf}
`);
  const small = await startServer(config, 1);
  const url = small.url;
  try {
    const post = (model, max_tokens) => fetch(`${url}/v1/completions`, {
      method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model, prompt: "The little robot", max_tokens, temperature: 1 }),
    });
    const responses = await Promise.all(Array.from({ length: 8 }, () => post("gpt://folder1/qwen/latest", 200)));
    const busy = responses.filter((r) => r.status === 429);
    assert.ok(busy.length > 0, "some requests must be refused");
    assert.ok(busy.every((r) => r.headers.get("retry-after")), "429 carries Retry-After");
    assert.ok(responses.some((r) => r.status === 200));
    assert.equal((await post("gpt://folder1/aidreams/latest", 4)).status, 200);
    // Eviction happens on the next use once the previous model is idle (its last requests may still be finishing).
    assert.equal((await post("gpt://folder1/aidreams/latest", 4)).status, 200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.equal(Number(metrics.match(/^fmserve_models_loaded (\d+)/m)[1]), 1, "the budget holds one model at a time");
    assert.match(small.log, /unloading model qwen\/latest/);
  } finally {
    await stopServer(small.process);
  }
});

test("logprobs and top_logprobs follow the chat schema", async () => {
  const r = await client().chat.completions.create({
    model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2,
  });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    assert.equal(t.top_logprobs[0].logprob, t.logprob, "greedy picks the most likely token");
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
  }
});

test("legacy completions logprobs use parallel arrays", async () => {
  const r = await client().completions.create({ model: MODEL, prompt: "I dreamed", max_tokens: 4, temperature: 0, logprobs: 2 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 4);
  assert.equal(lp.token_logprobs.length, 4);
  assert.equal(lp.tokens.join(""), r.choices[0].text);
  assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
  assert.deepEqual(lp.text_offset, [0, 1, 4, 6].slice(0, 4).map((_, i) => lp.tokens.slice(0, i).join("").length));
});
