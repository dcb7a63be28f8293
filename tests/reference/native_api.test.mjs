// The native Foundation Models REST API against a live `fmserve serve`, with a client written from the shapes in
// shared/reference/foundation-models-api.md: completion (whole and streamed), completionAsync + operations,
// tokenize, errors in the service's shape, folders, durability across SIGKILL and retention. Every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixtures, createKey as createKeyIn, startServer as startServerIn, stopServer, sleep } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-native-"));
const dataDir = join(work, "data");
const config = join(work, "config.yaml");
const aidreams = `${fixtures}/models/aidreams260K.gguf`;
const qwen = `${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf`;
const createKey = (folder) => createKeyIn(dataDir, folder);
const startServer = () => startServerIn(config, dataDir, 2);

let server, key, otherKey;

before(async () => {
  writeFileSync(config, `operations: {retention: 4s}
models:
  - name: aidreams
    context: 128
    branches:
      latest: {path: ${aidreams}, version: "01.06.2025"}
      rc: ${aidreams}
  - name: qwen
    context: 512
    branches: {latest: ${qwen}}
`);
  key = createKey("b1gfold");
  otherKey = createKey("b2gother");
  server = await startServer();
});

after(() => stopServer(server.process));

async function call(path, body, { apiKey = key, method = "POST", headers = {} } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { Authorization: `Api-Key ${apiKey}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

const request = (extra = {}) => ({
  modelUri: "gpt://b1gfold/aidreams/latest",
  completionOptions: { temperature: 0, maxTokens: "24" },
  messages: [{ role: "system", text: "Tell a story." }, { role: "user", text: "I dreamed" }],
  ...extra,
});

// A CompletionResponse as the reference gives it, field for field.
function checkCompletionResponse(r, { status, version }) {
  assert.deepEqual(Object.keys(r).sort(), ["alternatives", "modelVersion", "usage"]);
  assert.equal(r.alternatives.length, 1);
  assert.deepEqual(Object.keys(r.alternatives[0]).sort(), ["message", "status"]);
  assert.equal(r.alternatives[0].message.role, "assistant");
  assert.equal(typeof r.alternatives[0].message.text, "string");
  assert.equal(r.alternatives[0].status, status);
  for (const k of ["inputTextTokens", "completionTokens", "totalTokens"]) assert.match(r.usage[k], /^\d+$/, `${k} is an int64 string`);
  assert.equal(Number(r.usage.totalTokens), Number(r.usage.inputTextTokens) + Number(r.usage.completionTokens));
  if (version) assert.equal(r.modelVersion, version);
  else assert.match(r.modelVersion, /^\d\d\.\d\d\.\d{4}$/);
}

function checkError(res, httpCode, grpcCode, httpStatus) {
  assert.equal(res.status, httpCode, res.text);
  assert.deepEqual(Object.keys(res.json.error).sort(), ["details", "grpcCode", "httpCode", "httpStatus", "message"]);
  assert.equal(res.json.error.grpcCode, grpcCode);
  assert.equal(res.json.error.httpCode, httpCode);
  assert.equal(res.json.error.httpStatus, httpStatus);
  assert.ok(res.json.error.message.length > 0);
  assert.deepEqual(res.json.error.details, []);
}

test("completion: the whole response, with modelVersion from the branch's version", async () => {
  const res = await call("/foundationModels/v1/completion", request());
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json), ["result"]);
  const r = res.json.result;
  checkCompletionResponse(r, { status: "ALTERNATIVE_STATUS_TRUNCATED_FINAL", version: "01.06.2025" });
  assert.equal(r.usage.completionTokens, "24");
  assert.equal(r.usage.completionTokensDetails.reasoningTokens, "0");
  // Same request twice (greedy) gives the same text; maxTokens as a number works too.
  const again = await call("/foundationModels/v1/completion", request({ completionOptions: { temperature: 0, maxTokens: 24 } }));
  assert.equal(again.json.result.alternatives[0].message.text, r.alternatives[0].message.text);
});

test("completion: URI forms, the default branch and the file date as modelVersion", async () => {
  const texts = [];
  for (const uri of ["gpt://b1gfold/aidreams", "gpt://b1gfold/aidreams/", "gpt://b1gfold/aidreams/latest"]) {
    const res = await call("/foundationModels/v1/completion", request({ modelUri: uri }));
    assert.equal(res.status, 200, `${uri}: ${res.text}`);
    texts.push(res.json.result.alternatives[0].message.text);
  }
  assert.equal(new Set(texts).size, 1);
  const rc = await call("/foundationModels/v1/completion", request({ modelUri: "gpt://b1gfold/aidreams/rc" }));
  const mtime = statSync(aidreams).mtime;
  const date = `${String(mtime.getUTCDate()).padStart(2, "0")}.${String(mtime.getUTCMonth() + 1).padStart(2, "0")}.${mtime.getUTCFullYear()}`;
  assert.equal(rc.json.result.modelVersion, date);
  // snake_case field names are accepted as well.
  const snake = await call("/foundationModels/v1/completion", { model_uri: "gpt://b1gfold/aidreams", completion_options: { temperature: 0, max_tokens: "24" }, messages: request().messages });
  assert.equal(snake.json.result.alternatives[0].message.text, texts[0]);
});

test("completion: a stream of cumulative lines; the last equals the whole response", async () => {
  const whole = (await call("/foundationModels/v1/completion", request({ modelUri: "gpt://b1gfold/qwen/latest", completionOptions: { temperature: 0, maxTokens: 40 } }))).json.result;
  const res = await call("/foundationModels/v1/completion", request({ modelUri: "gpt://b1gfold/qwen/latest", completionOptions: { stream: true, temperature: 0, maxTokens: 40 } }));
  assert.equal(res.status, 200);
  assert.ok(res.text.endsWith("\n"));
  const lines = res.text.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.length > 2, `${lines.length} lines`);
  let previous = "";
  lines.forEach((line, i) => {
    assert.deepEqual(Object.keys(line), ["result"]);
    const last = i === lines.length - 1;
    const r = line.result;
    assert.equal(r.alternatives[0].status, last ? whole.alternatives[0].status : "ALTERNATIVE_STATUS_PARTIAL");
    assert.ok(r.usage && /^\d+$/.test(r.usage.completionTokens), "usage on every line");
    const text = r.alternatives[0].message.text;
    assert.ok(text.startsWith(previous), `line ${i} extends the previous one`);
    previous = text;
  });
  const final = lines.at(-1).result;
  assert.equal(final.alternatives[0].message.text, whole.alternatives[0].message.text);
  assert.deepEqual(final.usage, whole.usage);
});

test("tokenize and tokenizeCompletion", async () => {
  const res = await call("/foundationModels/v1/tokenize", { modelUri: "gpt://b1gfold/aidreams/latest", text: "I dreamed" });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json), ["tokens", "modelVersion"]);
  for (const t of res.json.tokens) {
    assert.match(t.id, /^\d+$/);
    assert.equal(typeof t.text, "string");
    assert.equal(t.special, false);
  }
  assert.equal(res.json.tokens.map((t) => t.text).join(""), " I dreamed");
  const prompt = await call("/foundationModels/v1/tokenizeCompletion", request());
  assert.equal(prompt.status, 200, prompt.text);
  const whole = await call("/foundationModels/v1/completion", request());
  assert.equal(String(prompt.json.tokens.length), whole.json.result.usage.inputTextTokens);
});

async function poll(id, apiKey = key, { timeoutMs = 60000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(`/operations/${id}`, undefined, { method: "GET", apiKey });
    if (res.status !== 200 || res.json.done || Date.now() > deadline) return res;
    await sleep(100);
  }
}

test("completionAsync: an Operation, polled until done; the response matches the sync one", async () => {
  const res = await call("/foundationModels/v1/completionAsync", request());
  assert.equal(res.status, 200, res.text);
  const op = res.json;
  assert.deepEqual(Object.keys(op).sort(), ["createdAt", "createdBy", "description", "done", "id", "metadata", "modifiedAt"]);
  assert.equal(op.description, "Async GPT Completion");
  assert.equal(op.done, false);
  assert.equal(op.metadata, null);
  assert.match(op.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const done = (await poll(op.id)).json;
  assert.equal(done.done, true);
  assert.equal(done.error, undefined);
  assert.equal(done.response["@type"], "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.CompletionResponse");
  const { ["@type"]: _, ...response } = done.response;
  checkCompletionResponse(response, { status: "ALTERNATIVE_STATUS_TRUNCATED_FINAL", version: "01.06.2025" });
  const sync = (await call("/foundationModels/v1/completion", request())).json.result;
  assert.deepEqual(response, sync);
  // Another folder's key cannot see it (404, as if it did not exist); neither can a missing key.
  checkError(await call(`/operations/${op.id}`, undefined, { method: "GET", apiKey: otherKey }), 404, 5, "Not Found");
  checkError(await call(`/operations/${op.id}:cancel`, undefined, { method: "GET", apiKey: otherKey }), 404, 5, "Not Found");
  checkError(await call(`/operations/${op.id}`, undefined, { method: "GET", apiKey: "fmk_nope_nope" }), 401, 16, "Unauthorized");
  // Cancelling a finished operation leaves it as it is.
  const cancelled = await call(`/operations/${op.id}:cancel`, undefined, { method: "GET" });
  assert.deepEqual(cancelled.json.response, done.response);
});

test("completionAsync: cancel ends an operation with CANCELLED", async () => {
  const long = { modelUri: "gpt://b1gfold/qwen/latest", completionOptions: { temperature: 1, maxTokens: 450 }, messages: [{ role: "user", text: "Tell me everything." }] };
  const ops = [];
  for (let i = 0; i < 6; i++) ops.push((await call("/foundationModels/v1/completionAsync", long)).json);
  const target = ops.at(-1);  // queued behind the others
  const res = await call(`/operations/${target.id}:cancel`, undefined, { method: "GET" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.done, true);
  assert.equal(res.json.error.code, 1);
  assert.equal(res.json.response, undefined);
  const later = (await poll(target.id)).json;
  assert.equal(later.error.code, 1, "stays cancelled");
  for (const op of ops.slice(0, -1)) await call(`/operations/${op.id}:cancel`, undefined, { method: "GET" });
});

test("another folder's key is refused the model", async () => {
  checkError(await call("/foundationModels/v1/completion", request(), { apiKey: otherKey }), 403, 7, "Forbidden");
  checkError(await call("/foundationModels/v1/completionAsync", request(), { apiKey: otherKey }), 403, 7, "Forbidden");
  checkError(await call("/foundationModels/v1/completion", request(), { apiKey: "" }), 401, 16, "Unauthorized");
});

test("bad input gets the service's error shape and the server keeps serving", async () => {
  const m = [{ role: "user", text: "a" }];
  const cases = [
    [{ modelUri: "gpt://b1gfold/aidreams", completionOptions: { temperature: 1.5 }, messages: m }, /temperature/],
    [{ modelUri: "gpt://b1gfold/aidreams", messages: [{ role: "narrator", text: "a" }] }, /role/],
    [{ modelUri: "gpt://b1gfold/aidreams", messages: [] }, /messages must not be empty/],
    [{ modelUri: "gpt://b1gfold/aidreams", completionOptions: { maxTokens: 0 }, messages: m }, /maxTokens/],
    [{ modelUri: "gpt://b1gfold/aidreams", completionOptions: { maxTokens: "-3" }, messages: m }, /maxTokens/],
    [{ modelUri: "gpt://b1gfold/aidreams", completionOptions: { maxTokens: "lots" }, messages: m }, /maxTokens/],
    [{ modelUri: "gtp://b1gfold/aidreams", messages: m }, /modelUri/],
    [{ modelUri: "gpt://b1gfold", messages: m }, /modelUri/],
    [{ modelUri: 42, messages: m }, /modelUri must be a string/],
    ["{not json", /not valid JSON/],
  ];
  for (const [body, pattern] of cases) {
    for (const path of ["/foundationModels/v1/completion", "/foundationModels/v1/completionAsync"]) {
      const res = await call(path, body);
      checkError(res, 400, 3, "Bad Request");
      assert.match(res.json.error.message, pattern);
    }
  }
  checkError(await call("/foundationModels/v1/completion", { modelUri: "gpt://b1gfold/nosuch", messages: m }), 404, 5, "Not Found");
  checkError(await call("/foundationModels/v1/completionAsync", { modelUri: "gpt://b1gfold/nosuch", messages: m }), 404, 5, "Not Found");
  checkError(await call("/operations/fmdoesnotexist", undefined, { method: "GET" }), 404, 5, "Not Found");
  const ok = await call("/foundationModels/v1/completion", request());
  assert.equal(ok.status, 200);
});

test("an operation in flight when the server is SIGKILLed is finished after the restart", async () => {
  const long = { modelUri: "gpt://b1gfold/qwen/latest", completionOptions: { temperature: 0.8, maxTokens: 480 }, messages: [{ role: "user", text: "Write at length." }] };
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await call("/foundationModels/v1/completionAsync", long)).json.id);
  // Wait until generation is under way, then kill the process without warning.
  for (let i = 0; i < 200; i++) {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    if (Number(metrics.match(/^fmserve_requests_running (\d+)/m)[1]) > 0) break;
    await sleep(50);
  }
  const inFlight = await call(`/operations/${ids.at(-1)}`, undefined, { method: "GET" });
  assert.equal(inFlight.json.done, false, "the last operation was still running or queued at the kill");
  await stopServer(server.process, "SIGKILL");
  server = await startServer();
  for (const id of ids) {
    const res = await poll(id, key, { timeoutMs: 120000 });
    assert.equal(res.status, 200);
    assert.equal(res.json.done, true, `operation ${id} finished after the restart`);
    assert.ok(res.json.response || res.json.error);
    if (res.json.response) assert.ok(Number(res.json.response.usage.completionTokens) > 0);
  }
});

test("done operations are purged after the configured retention", async () => {
  const op = (await call("/foundationModels/v1/completionAsync", request())).json;
  assert.equal((await poll(op.id)).json.done, true);
  let status = 200;
  for (let i = 0; i < 150 && status === 200; i++) {
    await sleep(100);
    status = (await call(`/operations/${op.id}`, undefined, { method: "GET" })).status;
  }
  assert.equal(status, 404, "gone after the 4 s retention");
});
