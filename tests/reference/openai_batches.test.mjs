// The OpenAI Files and Batch APIs against a live `fmserve serve`, driven by the official npm `openai` client:
// files.create / retrieve / list / content / del, batches.create / retrieve / list / cancel, output and error
// files of {id, custom_id, response:{status_code, request_id, body}, error} lines, input lines checked at creation.
// Every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { fixtures, createKey as createKeyIn, startServer, stopServer, sleep } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-oai-batch-"));
const dataDir = join(work, "data");
const config = join(work, "config.yaml");
const aidreams = `${fixtures}/models/aidreams260K.gguf`;
const MODEL = "gpt://folder1/aidreams/latest";

let server, key, otherKey;

before(async () => {
  writeFileSync(config, `models:
  - name: aidreams
    context: 128
    branches: {latest: ${aidreams}}
  - name: embed
    kind: embedding
    context: 128
    branches: {latest: ${aidreams}}
`);
  key = createKeyIn(dataDir, "folder1");
  otherKey = createKeyIn(dataDir, "folder2");
  server = await startServer(config, dataDir, 2);
});

after(() => stopServer(server.process));

const client = (apiKey = key) => new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 60000 });

const chatLine = (i, extra = {}) => JSON.stringify({
  custom_id: `req-${i}`, method: "POST", url: "/v1/chat/completions",
  body: { model: MODEL, messages: [{ role: "user", content: `Once upon a time ${i}` }], max_tokens: 6, temperature: 0, ...extra },
});

async function upload(text, name = "input.jsonl", apiKey = key) {
  return client(apiKey).files.create({ file: await toFile(Buffer.from(text), name), purpose: "batch" });
}

async function waitBatch(id, statuses = ["completed", "failed", "cancelled", "expired"], timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = await client().batches.retrieve(id);
    if (statuses.includes(b.status) || Date.now() > deadline) return b;
    await sleep(100);
  }
}

test("files: create, retrieve, list, content and delete with the openai client; other folders see none", async () => {
  const text = chatLine(0) + "\n";
  const f = await upload(text, "mine.jsonl");
  assert.equal(f.object, "file");
  assert.equal(f.purpose, "batch");
  assert.equal(f.filename, "mine.jsonl");
  assert.equal(f.bytes, Buffer.byteLength(text));
  assert.equal(typeof f.created_at, "number");
  assert.deepEqual(await client().files.retrieve(f.id), f);
  const listed = await client().files.list();
  assert.ok(listed.data.some((x) => x.id === f.id));
  assert.equal(await (await client().files.content(f.id)).text(), text);
  await assert.rejects(client(otherKey).files.retrieve(f.id), (e) => e.status === 404);
  assert.ok(!(await client(otherKey).files.list()).data.some((x) => x.id === f.id));
  const deleted = await client().files.del(f.id);
  assert.deepEqual(deleted, { id: f.id, object: "file", deleted: true });
  await assert.rejects(client().files.retrieve(f.id), (e) => e.status === 404);
  await assert.rejects(client().files.create({ file: await toFile(Buffer.from("x"), "a.jsonl"), purpose: "nonsense" }), (e) => e.status === 400);
});

test("a batch of chat completions runs to completion; its output file holds one response per line", async () => {
  const n = 12;
  const lines = Array.from({ length: n }, (_, i) => chatLine(i));
  lines.push(chatLine(99, { max_tokens: 100000, max_tokens_is_error_here: undefined }));  // too many tokens for the context: one failed line
  const input = await upload(lines.join("\n") + "\n");
  const b = await client().batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { job: "nightly" } });
  assert.equal(b.object, "batch");
  assert.equal(b.endpoint, "/v1/chat/completions");
  assert.equal(b.input_file_id, input.id);
  assert.equal(b.completion_window, "24h");
  assert.deepEqual(b.metadata, { job: "nightly" });
  assert.ok(["validating", "in_progress"].includes(b.status));
  assert.equal(b.request_counts.total, n + 1);
  const done = await waitBatch(b.id);
  assert.equal(done.status, "completed", JSON.stringify(done));
  assert.deepEqual(done.request_counts, { total: n + 1, completed: n, failed: 1 });
  assert.ok(done.output_file_id && done.error_file_id);
  assert.ok(done.completed_at >= done.in_progress_at && done.in_progress_at >= done.created_at);
  const out = (await (await client().files.content(done.output_file_id)).text()).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(out.length, n);
  out.forEach((o, i) => {
    assert.equal(o.custom_id, `req-${i}`, "output in input order");
    assert.equal(o.error, null);
    assert.equal(o.response.status_code, 200);
    assert.equal(o.response.body.object, "chat.completion");
    assert.equal(o.response.body.model, MODEL);
    assert.equal(typeof o.response.body.choices[0].message.content, "string");
    assert.ok(o.response.body.usage.completion_tokens <= 6);
  });
  // The same request, asked directly, gives the same greedy text.
  const direct = await client().chat.completions.create(JSON.parse(lines[4]).body);
  assert.equal(direct.choices[0].message.content, out[4].response.body.choices[0].message.content);
  const errors = (await (await client().files.content(done.error_file_id)).text()).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].custom_id, "req-99");
  assert.equal(errors[0].response.status_code, 400);
  assert.ok(errors[0].response.body.error.message.length > 0);
  const outFile = await client().files.retrieve(done.output_file_id);
  assert.equal(outFile.purpose, "batch_output");
  const listed = await client().batches.list({ limit: 100 });
  assert.ok(listed.data.some((x) => x.id === b.id));
  await assert.rejects(client(otherKey).batches.retrieve(b.id), (e) => e.status === 404);
});

test("a batch whose input lines are invalid fails with each line's error", async () => {
  const lines = [
    chatLine(1),
    chatLine(1),  // duplicate custom_id
    JSON.stringify({ custom_id: "x2", method: "POST", url: "/v1/completions", body: { model: MODEL, prompt: "a" } }),  // wrong endpoint
    JSON.stringify({ custom_id: "x3", method: "POST", url: "/v1/chat/completions", body: { model: "gpt://folder1/other/latest", messages: [{ role: "user", content: "a" }] } }),
    "{not json",
    JSON.stringify({ custom_id: "x5", method: "POST", url: "/v1/chat/completions", body: { model: MODEL, messages: "nope" } }),
    JSON.stringify({ custom_id: "x6", method: "POST", url: "/v1/chat/completions", body: { model: MODEL, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA==" } }] }] } }),
  ];
  const input = await upload(lines.join("\n"));
  const b = await client().batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
  assert.equal(b.status, "failed");
  const byLine = Object.fromEntries(b.errors.data.map((e) => [e.line, e.code]));
  assert.deepEqual(byLine, { 2: "duplicate_custom_id", 3: "mismatched_url", 4: "mismatched_model", 5: "invalid_json", 6: "invalid_body",
                             7: "unsupported_feature" });
  assert.ok(b.failed_at);
  await assert.rejects(client().batches.cancel(b.id), (e) => e.status === 400);
  // Bad requests: unknown file, other endpoint, other window.
  await assert.rejects(client().batches.create({ input_file_id: "file-nope", endpoint: "/v1/chat/completions", completion_window: "24h" }), (e) => e.status === 404);
  await assert.rejects(client().batches.create({ input_file_id: input.id, endpoint: "/v1/responses", completion_window: "24h" }), (e) => e.status === 400);
  await assert.rejects(client().batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "1h" }), (e) => e.status === 400);
});

test("cancelling a batch stops it and keeps the finished lines in its output file", async () => {
  const n = 3000;
  const lines = Array.from({ length: n }, (_, i) => chatLine(i, { max_tokens: 40 }));
  const input = await upload(lines.join("\n"));
  const b = await client().batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
  for (let i = 0; i < 300; i++) {
    const now = await client().batches.retrieve(b.id);
    if (now.request_counts.completed >= 20) break;
    await sleep(50);
  }
  const cancelling = await client().batches.cancel(b.id);
  assert.ok(["cancelling", "cancelled"].includes(cancelling.status), cancelling.status);
  assert.ok(cancelling.cancelling_at);
  const done = await waitBatch(b.id, ["cancelled"], 10000);
  assert.equal(done.status, "cancelled");
  assert.ok(done.request_counts.completed >= 20 && done.request_counts.completed < n, JSON.stringify(done.request_counts));
  const out = (await (await client().files.content(done.output_file_id)).text()).trimEnd().split("\n");
  assert.equal(out.length, done.request_counts.completed);
});

test("a batch to /v1/embeddings answers each line as embeddings.create does; generation models are refused for it", async () => {
  const EMB = "emb://folder1/embed/latest";
  const bodies = [
    { model: EMB, input: "Once upon a time" },
    { model: EMB, input: ["a cat", "a dog", "a bird"] },
    { model: EMB, input: "truncated and renormalised", dimensions: 8 },
    { model: EMB, input: "as base64", encoding_format: "base64" },
  ];
  const lines = bodies.map((body, i) => JSON.stringify({ custom_id: `emb-${i}`, method: "POST", url: "/v1/embeddings", body }));
  const input = await upload(lines.join("\n") + "\n");
  const created = await client().batches.create({ input_file_id: input.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  assert.equal(created.endpoint, "/v1/embeddings");
  const b = await waitBatch(created.id);
  assert.equal(b.status, "completed", JSON.stringify(b));
  assert.deepEqual(b.request_counts, { total: 4, completed: 4, failed: 0 });
  const out = (await (await client().files.content(b.output_file_id)).text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(out.map((o) => o.custom_id), ["emb-0", "emb-1", "emb-2", "emb-3"]);
  for (const [i, body] of bodies.entries()) {
    assert.equal(out[i].response.status_code, 200);
    // The client decodes base64 itself unless asked for it; the raw response is compared either way.
    const direct = await (await fetch(`${server.url}/v1/embeddings`, {
      method: "POST", headers: { Authorization: `Api-Key ${key}`, "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
    assert.deepEqual(out[i].response.body, direct, `line ${i}`);
  }
  assert.equal(out[1].response.body.data.length, 3);
  assert.equal(out[2].response.body.data[0].embedding.length, 8);
  assert.equal(typeof out[3].response.body.data[0].embedding, "string");

  const wrong = await upload(JSON.stringify({ custom_id: "x", method: "POST", url: "/v1/embeddings", body: { model: "emb://folder1/aidreams/latest", input: "hi" } }) + "\n");
  const failed = await client().batches.create({ input_file_id: wrong.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  assert.equal(failed.status, "failed");
  assert.deepEqual(failed.errors.data.map((e) => e.code), ["invalid_model"]);
  assert.match(failed.errors.data[0].message, /kind text\) does not serve \/v1\/embeddings/);
});
