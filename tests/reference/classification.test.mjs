// Few-shot classification through a live server, checked against an independent computation: the prompt and label
// tokens the engine scores (from `fmserve classify`) are evaluated whole with `fmserve logits`, and the label
// probabilities are computed here in float64 from those logits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, fixtures, createKey, startServer, stopServer } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-classify-"));
const dataDir = join(work, "data");
const model = `${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf`;
const classifier = join(work, "sentiment.gguf"), tagger = join(work, "tagger.gguf");
let server, key;

before(async () => {
  // Fine-tuned classifiers: tiny random decoders with a classification head, one multi-class (last-token pooling),
  // one multi-label (mean pooling).
  execFileSync(binary, ["model", "synth", "--shape", "tiny-qwen3", "--type", "F16", "--classifier-labels",
                        "positive,negative,neutral", "--pooling", "last", "-o", classifier]);
  execFileSync(binary, ["model", "synth", "--shape", "tiny-qwen3", "--type", "F16", "--seed", "7", "--classifier-labels",
                        "urgent,billing,spam,other", "--multi-label", "--pooling", "mean", "-o", tagger]);
  const config = join(work, "config.yaml");
  writeFileSync(config, `models:
  - name: sentiment
    kind: classifier
    context: 128
    branches: {latest: ${classifier}}
  - name: tagger
    kind: classifier
    context: 128
    branches: {latest: ${tagger}}
  - name: qwen
    context: 512
    branches: {latest: ${model}}
  - name: embedder
    kind: embedding
    context: 64
    branches: {latest: ${fixtures}/models/synthetic/syn-qwen3-F32.gguf}
`);
  key = createKey(dataDir, "b1gfold");
  server = await startServer(config, dataDir, 2);
});

after(() => stopServer(server.process));

const request = {
  modelUri: "cls://b1gfold/qwen/latest",
  taskDescription: "Topic of the question",
  labels: ["billing", "delivery", "other things"],
  text: "Where is my parcel?",
  samples: [{ text: "I was charged twice", label: "billing" }, { text: "The courier never came", label: "delivery" }],
};

async function classify(body) {
  const res = await fetch(`${server.url}/foundationModels/v1/fewShotTextClassification`, {
    method: "POST", headers: { Authorization: `Api-Key ${key}` }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

// log-softmax in float64 of one row of logits.
function logprob(row, token) {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return row[token] - max - Math.log(sum);
}

test("confidences: one per label, summing to 1, deterministic, equal to an independent computation", async () => {
  const a = await classify(request);
  assert.equal(a.status, 200, JSON.stringify(a.json));
  assert.deepEqual(Object.keys(a.json), ["predictions", "modelVersion", "inputTokens"]);
  assert.deepEqual(a.json.predictions.map((p) => p.label), request.labels);
  const sum = a.json.predictions.reduce((s, p) => s + p.confidence, 0);
  assert.ok(Math.abs(sum - 1) < 1e-12);
  const b = await classify({ ...request, task_description: request.taskDescription, taskDescription: undefined });
  assert.deepEqual(b.json, a.json, "task_description is accepted, and the result is deterministic");

  const args = ["classify", "-m", model, "--task", request.taskDescription, "--text", request.text, "-t", "2"];
  for (const l of request.labels) args.push("--label", l);
  for (const s of request.samples) args.push("--sample", `${s.text}=${s.label}`);
  const scored = JSON.parse(execFileSync(binary, args, { encoding: "utf8" }).trim().split("\n").pop());
  assert.equal(String(scored.input_tokens), a.json.inputTokens);
  // Each label scored on its own: the prompt plus the label's tokens evaluated as one sequence.
  const logprobs = scored.labels.map((label, i) => {
    const ids = [...scored.prompt, ...label];
    const out = join(work, `logits-${i}.f32`);
    execFileSync(binary, ["logits", "-m", model, "--tokens", ids.join(","), "-o", out, "-t", "2"]);
    const logits = new Float32Array(readFileSync(out).buffer.slice(0));
    const vocab = logits.length / ids.length;
    let lp = 0;
    for (let t = 0; t < label.length; t++) {
      const pos = scored.prompt.length - 1 + t;  // the logits after this position predict label[t]
      lp += logprob(logits.subarray(pos * vocab, (pos + 1) * vocab), label[t]);
    }
    return lp;
  });
  const top = Math.max(...logprobs);
  const z = logprobs.reduce((s, lp) => s + Math.exp(lp - top), 0);
  logprobs.forEach((lp, i) => {
    const expected = Math.exp(lp - top) / z;
    assert.ok(Math.abs(expected - a.json.predictions[i].confidence) < 1e-5,
              `${request.labels[i]}: independent ${expected}, server ${a.json.predictions[i].confidence}`);
  });
});

// The head applied here in float64 to hidden states that `fmserve logits --embeddings` computes on its own path.
function expectedPredictions(model, text, pooling, multiLabel) {
  const ids = JSON.parse(execFileSync(binary, ["tokenize", "-m", model, "--text", text, "--special"], { encoding: "utf8" }))
    .tokens.map((t) => t.id);
  const out = join(work, "hidden.f32");
  execFileSync(binary, ["logits", "-m", model, "--tokens", ids.join(","), "--embeddings", "-o", out, "-t", "2"]);
  const hidden = new Float32Array(readFileSync(out).buffer.slice(0));
  const width = hidden.length / ids.length;
  const pooled = new Float64Array(width);
  for (let t = pooling === "last" ? ids.length - 1 : 0; t < ids.length; t++)
    for (let d = 0; d < width; d++) pooled[d] += hidden[t * width + d] / (pooling === "last" ? 1 : ids.length);
  const dump = (name) => JSON.parse(execFileSync(binary, ["inspect", model, "--dump-tensor", name], { encoding: "utf8" }).trim().split("\n").pop());
  const w = dump("cls.output.weight"), b = dump("cls.output.bias");
  const [embd, labels] = w.dims;
  assert.equal(embd, width);
  const scores = Array.from({ length: labels }, (_, l) => b.values[l] + pooled.reduce((s, x, d) => s + w.values[l * embd + d] * x, 0));
  if (multiLabel) return { tokens: ids.length, confidences: scores.map((s) => 1 / (1 + Math.exp(-s))) };
  const top = Math.max(...scores), z = scores.reduce((s, x) => s + Math.exp(x - top), 0);
  return { tokens: ids.length, confidences: scores.map((s) => Math.exp(s - top) / z) };
}

test("textClassification: a fine-tuned head's predictions equal an independent float64 computation", async () => {
  const cases = [["sentiment", classifier, "last", false, ["positive", "negative", "neutral"]],
                 ["tagger", tagger, "mean", true, ["urgent", "billing", "spam", "other"]]];
  for (const [name, file, pooling, multiLabel, labels] of cases) {
    const text = "My invoice is wrong and I need help today!";
    const res = await fetch(`${server.url}/foundationModels/v1/textClassification`, {
      method: "POST", headers: { Authorization: `Api-Key ${key}` }, body: JSON.stringify({ modelUri: `cls://b1gfold/${name}`, text }) });
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.deepEqual(j.predictions.map((p) => p.label), labels);
    const expected = expectedPredictions(file, text, pooling, multiLabel);
    assert.equal(j.inputTokens, String(expected.tokens));
    j.predictions.forEach((p, i) => assert.ok(Math.abs(p.confidence - expected.confidences[i]) < 1e-5,
                                              `${name} ${p.label}: server ${p.confidence}, independent ${expected.confidences[i]}`));
    const sum = j.predictions.reduce((s, p) => s + p.confidence, 0);
    if (multiLabel) assert.ok(Math.abs(sum - 1) > 1e-3, "multi-label confidences are independent");
    else assert.ok(Math.abs(sum - 1) < 1e-12);
  }
  const noHead = await fetch(`${server.url}/foundationModels/v1/textClassification`, {
    method: "POST", headers: { Authorization: `Api-Key ${key}` }, body: JSON.stringify({ modelUri: "cls://b1gfold/qwen", text: "x" }) });
  assert.equal(noHead.status, 400);
  assert.match((await noHead.json()).error.message, /no classification head/);
});

test("bad input: the service's 400, and the server keeps serving", async () => {
  const cases = [
    [{ labels: Array.from({ length: 21 }, (_, i) => `l${i}`) }, /at most 20/],
    [{ labels: ["a", "a"] }, /twice/],
    [{ labels: ["a", ""] }, /empty/],
    [{ samples: [{ text: "x", label: "refund" }] }, /not among the labels/],
    [{ text: "" }, /text is empty/],
    [{ text: "word ".repeat(600) }, /tokens; the limit is/],
    [{ modelUri: "cls://b1gfold/embedder" }, /not a text model/],
    [{ modelUri: "gpt://b1gfold/qwen" }, /cls:\/\//],
    [{ labels: "billing" }, /labels must be an array/],
  ];
  for (const [change, pattern] of cases) {
    const r = await classify({ ...request, ...change });
    assert.equal(r.status, 400, JSON.stringify(change).slice(0, 80));
    assert.equal(r.json.error.grpcCode, 3);
    assert.match(r.json.error.message, pattern);
  }
  assert.equal((await classify({ ...request, modelUri: "cls://b1gfold/nosuch" })).status, 404);
  assert.equal((await classify(request)).status, 200);
});
