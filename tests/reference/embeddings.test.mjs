// Embeddings through a live server: the real `openai` client's embeddings.create and the native textEmbedding, both
// checked against llama.cpp's pooled embeddings (shared/fixtures/embed) and against `fmserve embed`; bad input gets
// the dialect's 400 while the server keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { binary, fixtures, createKey, startServer, stopServer } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-embed-"));
const dataDir = join(work, "data");
const qwen = `${fixtures}/models/synthetic/syn-qwen3-F32.gguf`;
let server, key;

before(async () => {
  const config = join(work, "config.yaml");
  // The file carries no pooling key; the registry chooses mean pooling, bidirectional attention, L2 normalisation.
  writeFileSync(config, `models:
  - name: text-search-doc
    kind: embedding
    context: 64
    pooling: mean
    causal: false
    normalize: true
    branches: {latest: ${qwen}}
  - name: chat
    context: 64
    branches: {latest: ${qwen}}
`);
  key = createKey(dataDir, "b1gfold");
  server = await startServer(config, dataDir, 2);
});

after(() => stopServer(server.process));

const manifest = JSON.parse(readFileSync(`${fixtures}/embed/MANIFEST.json`, "utf8"));
const prompts = manifest.models.qwen3.prompt_ids;
// llama.cpp's rows for mean pooling, non-causal attention, F16 K/V (the server's default cache type), L2-normalised.
const golden = new Float32Array(readFileSync(`${fixtures}/embed/syn-qwen3-F32.mean.noncausal.kvf16.l2.f32`).buffer.slice(0));
const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test("OpenAI embeddings.create matches llama.cpp's pooled embeddings", async () => {
  const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
  const r = await client.embeddings.create({ model: "emb://b1gfold/text-search-doc/latest", input: prompts, encoding_format: "float" });
  assert.equal(r.object, "list");
  assert.equal(r.data.length, prompts.length);
  assert.equal(r.usage.prompt_tokens, prompts.reduce((n, p) => n + p.length, 0));
  r.data.forEach((d, i) => {
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, 256);
    assert.ok(maxDiff(d.embedding, golden.subarray(i * 256, (i + 1) * 256)) < 2.5e-4, `row ${i}`);
  });
  // The SDK's default: base64 floats, decoded by the client itself.
  const b64 = await client.embeddings.create({ model: "text-search-doc", input: [prompts[1]] }, { headers: { "OpenAI-Project": "b1gfold" } });
  assert.ok(maxDiff(b64.data[0].embedding, r.data[1].embedding) === 0);
});

test("native textEmbedding equals fmserve embed, and dim truncates and renormalises", async () => {
  const call = (body) => fetch(`${server.url}/foundationModels/v1/textEmbedding`, {
    method: "POST", headers: { Authorization: `Api-Key ${key}` }, body: JSON.stringify(body) });
  const res = await call({ modelUri: "emb://b1gfold/text-search-doc", text: "the little robot" });
  assert.equal(res.status, 200);
  const j = await res.json();
  assert.deepEqual(Object.keys(j), ["embedding", "numTokens", "modelVersion"]);
  assert.match(j.numTokens, /^\d+$/);
  const cli = JSON.parse(execFileSync(binary, ["embed", "-m", qwen, "--text", "the little robot", "--pooling", "mean",
                                               "--non-causal", "--normalize"], { encoding: "utf8" }).trim().split("\n").pop());
  assert.equal(cli.n_tokens, Number(j.numTokens));
  assert.ok(maxDiff(j.embedding, cli.embedding) < 1e-6);
  const short = await (await call({ modelUri: "emb://b1gfold/text-search-doc", text: "the little robot", dim: "8" })).json();
  assert.equal(short.embedding.length, 8);
  const norm = Math.hypot(...short.embedding);
  assert.ok(Math.abs(norm - 1) < 1e-6);
  const head = j.embedding.slice(0, 8), headNorm = Math.hypot(...head);
  assert.ok(maxDiff(short.embedding, head.map((x) => x / headNorm)) < 1e-6);
});

test("bad input: the dialect's 400, and the server keeps serving", async () => {
  const native = async (body) => {
    const res = await fetch(`${server.url}/foundationModels/v1/textEmbedding`, { method: "POST", headers: { Authorization: `Api-Key ${key}` }, body: JSON.stringify(body) });
    return { status: res.status, error: (await res.json()).error };
  };
  const cases = [
    [{ modelUri: "emb://b1gfold/text-search-doc", text: "" }, /empty/],
    [{ modelUri: "emb://b1gfold/text-search-doc", text: "word ".repeat(200) }, /at most 64/],
    [{ modelUri: "emb://b1gfold/text-search-doc", text: "a", dim: 257 }, /dimensions must be between 1 and the model's 256/],
    [{ modelUri: "emb://b1gfold/text-search-doc", text: "a", dim: 0 }, /dim must be between/],
    [{ modelUri: "emb://b1gfold/chat", text: "a" }, /not an embedding model/],
    [{ modelUri: "gpt://b1gfold/text-search-doc", text: "a" }, /emb:\/\//],
  ];
  for (const [body, pattern] of cases) {
    const r = await native(body);
    assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
    assert.equal(r.error.grpcCode, 3);
    assert.match(r.error.message, pattern);
  }
  const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
  for (const body of [{ model: "text-search-doc", input: [] }, { model: "text-search-doc", input: [[999999]] },
                      { model: "text-search-doc", input: "a", dimensions: 9999 }, { model: "text-search-doc", input: 5 }]) {
    await assert.rejects(client.embeddings.create(body, { headers: { "OpenAI-Project": "b1gfold" } }), (e) => e.status === 400);
  }
  const ok = await native({ modelUri: "emb://b1gfold/text-search-doc", text: "still here" });
  assert.equal(ok.status, 200);
});
