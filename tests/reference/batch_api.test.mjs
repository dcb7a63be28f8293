// Datasets and batch completion tasks against a live `fmserve serve`, with a client written from the shapes in
// shared/reference/foundation-models-api.md §9, §10: drafts, uploads (one PUT and multipart), validation as an
// Operation, per-row errors, preview / download, folders; batch tasks to completion, cancellation, and SIGKILLs at
// random moments during a task that must still end with exactly one result per line. Every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixtures, createKey as createKeyIn, startServer as startServerIn, stopServer, sleep } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-batch-"));
const dataDir = join(work, "data");
const config = join(work, "config.yaml");
const aidreams = `${fixtures}/models/aidreams260K.gguf`;
const qwen = `${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf`;  // slow enough to be killed mid-task
const createKey = (folder) => createKeyIn(dataDir, folder);
const startServer = (env = {}) => startServerIn(config, dataDir, 2, env);

let server, key, otherKey;

before(async () => {
  writeFileSync(config, `max_body_size: 1MiB
batch: {lines_in_flight: 8}
models:
  - name: aidreams
    context: 128
    branches: {latest: ${aidreams}}
  - name: qwen
    context: 256
    branches: {latest: ${qwen}}
  - name: embed
    kind: embedding
    context: 128
    branches: {latest: ${aidreams}}
`);
  key = createKey("b1gfold");
  otherKey = createKey("b2gother");
  server = await startServer();
});

after(() => stopServer(server.process));

async function call(path, body, { apiKey = key, method = "POST", headers = {}, raw = false } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { ...(apiKey ? { Authorization: `Api-Key ${apiKey}` } : {}), ...(raw ? {} : { "Content-Type": "application/json" }), ...headers },
    body: body === undefined ? undefined : raw || typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}
const get = (path, opts = {}) => call(path, undefined, { method: "GET", ...opts });

function checkError(res, httpCode, grpcCode) {
  assert.equal(res.status, httpCode, res.text);
  assert.equal(res.json.error.httpCode, httpCode);
  assert.equal(res.json.error.grpcCode, grpcCode);
  assert.ok(res.json.error.message.length > 0);
}

async function poll(operationId, { timeoutMs = 60000, apiKey = key } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await get(`/operations/${operationId}`, { apiKey });
    assert.equal(res.status, 200, res.text);
    if (res.json.done || Date.now() > deadline) return res.json;
    await sleep(100);
  }
}

const row = (i) => JSON.stringify({ request: [{ role: "system", text: "Tell a story." }, { role: "user", text: `Once upon a time ${i}` }] });
const rows = (n) => Array.from({ length: n }, (_, i) => row(i)).join("\n") + "\n";

async function createDataset(name, taskType = "TextToTextGenerationRequest", apiKey = key, folderId = "b1gfold") {
  const res = await call("/datasets/v1/datasets", { name, folderId, taskType, uploadFormat: "jsonlines", labels: { team: "qa" } }, { apiKey });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function upload(datasetId, content) {
  const url = await call(`/datasets/v1/datasets/${datasetId}:getUploadDraftUrl`, { sizeBytes: String(Buffer.byteLength(content)) });
  assert.equal(url.status, 200, url.text);
  assert.equal(url.json.datasetId, datasetId);
  assert.match(url.json.uploadUrl, /^http:\/\/127\.0\.0\.1:\d+\/datasets\/v1\/uploads\/[0-9a-f]{48}$/);
  const put = await fetch(url.json.uploadUrl, { method: "PUT", body: content });  // no API key: the URL is the credential
  assert.equal(put.status, 200, await put.text());
  assert.ok(put.headers.get("etag"));
}

async function readyDataset(name, content) {
  const { datasetId } = await createDataset(name);
  await upload(datasetId, content);
  const op = await call(`/datasets/v1/datasets/${datasetId}:validate`, {});
  assert.equal(op.status, 200, op.text);
  const done = await poll(op.json.id);
  assert.equal(done.response.isValid, true, JSON.stringify(done));
  return datasetId;
}

async function download(datasetId) {
  const urls = await get(`/datasets/v1/datasets/${datasetId}:getDownloadUrls`);
  assert.equal(urls.status, 200, urls.text);
  assert.equal(urls.json.downloadUrls[0].key, "main");
  const res = await fetch(urls.json.downloadUrls[0].url);
  assert.equal(res.status, 200);
  return res.text();
}

const batchRequest = (sourceDatasetId, maxTokens = 8) => ({
  modelUri: "gpt://b1gfold/aidreams/latest", completionOptions: { temperature: 0, maxTokens: String(maxTokens) }, sourceDatasetId,
});

test("a dataset goes DRAFT -> VALIDATING -> READY, with the service's shapes", async () => {
  const created = await createDataset("support-questions");
  const d = created.dataset;
  assert.equal(created.datasetId, d.datasetId);
  assert.match(d.datasetId, /^fds[a-z0-9]+$/);
  assert.equal(d.folderId, "b1gfold");
  assert.equal(d.status, "DRAFT");
  assert.equal(d.taskType, "TextToTextGenerationRequest");
  assert.equal(d.rows, "0");
  assert.equal(d.sizeBytes, "0");
  assert.deepEqual(d.labels, { team: "qa" });
  assert.match(d.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const content = rows(5) + "\n";  // a blank line is no row
  await upload(d.datasetId, content);
  const op = await call(`/datasets/v1/datasets/${d.datasetId}:validate`, {});
  assert.equal(op.status, 200, op.text);
  assert.equal(op.json.done, false);
  const done = await poll(op.json.id);
  assert.deepEqual(done.response, {
    "@type": "type.googleapis.com/yandex.cloud.ai.dataset.v1.ValidateDatasetResponse", datasetId: d.datasetId, isValid: true, errors: [],
  });
  assert.equal(done.metadata.validRows, "5");
  assert.equal(done.metadata.totalRows, "6");
  const after = (await get(`/datasets/v1/datasets/${d.datasetId}`)).json.dataset;
  assert.equal(after.status, "READY");
  assert.equal(after.rows, "5");
  assert.equal(after.sizeBytes, String(Buffer.byteLength(content)));
  const preview = await get(`/datasets/v1/datasets/${d.datasetId}:preview?lines=2`);
  assert.deepEqual(preview.json, { datasetId: d.datasetId, previewLines: [row(0), row(1)] });
  assert.equal(await download(d.datasetId), content);
  // A READY dataset takes no more uploads or validations.
  checkError(await call(`/datasets/v1/datasets/${d.datasetId}:getUploadDraftUrl`, { sizeBytes: "10" }), 400, 9);
  checkError(await call(`/datasets/v1/datasets/${d.datasetId}:validate`, {}), 400, 9);
});

test("bad rows make a dataset INVALID with each error's row numbers", async () => {
  const { datasetId } = await createDataset("bad-rows", "ImageTextToTextGenerationRequest");
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).toString("base64");
  const jpeg = readFileSync(`${fixtures}/vision/images/tiny64.jpg`).toString("base64");
  const lines = [
    JSON.stringify({ request: [{ role: "user", content: [{ type: "text", text: "What is shown?" }, { type: "image", image: jpeg }] }] }),
    "{not json",
    JSON.stringify({ request: [{ role: "user", content: [{ type: "image", image: "@@not base64@@" }] }] }),
    JSON.stringify({ questions: [] }),
    JSON.stringify({ request: [{ role: "user", content: [{ type: "image", image: Buffer.from("GIF89a....").toString("base64") }] }] }),
    "[1,2]",
    JSON.stringify({ request: [{ role: "system", text: "no user here" }] }),
    "{also not json",
    JSON.stringify({ request: [{ role: "user", content: [{ type: "text", text: "What is shown?" }, { type: "image", image: png }] }] }),
  ];
  await upload(datasetId, lines.join("\n"));
  const op = await call(`/datasets/v1/datasets/${datasetId}:validate`, {});
  const done = await poll(op.json.id);
  assert.equal(done.response.isValid, false);
  const byError = Object.fromEntries(done.response.errors.map((e) => [e.error, e.rowNumbers]));
  // Rows 5 (a GIF signature) and 9 (a PNG signature) have the right magic numbers but do not decode.
  assert.deepEqual(byError, { invalid_json: ["2", "8"], bad_image: ["3"], missing_request: ["4"], undecodable_image: ["5", "9"],
                              bad_row: ["6"], no_user_message: ["7"] });
  for (const e of done.response.errors) assert.ok(e.errorDescription.length > 0);
  const d = (await get(`/datasets/v1/datasets/${datasetId}`)).json.dataset;
  assert.equal(d.status, "INVALID");
  assert.equal(d.rows, "1");
  assert.equal(d.validationError.length, 6);
  // A batch refuses a dataset that is not READY.
  checkError(await call("/foundationModels/v1/completionBatch", batchRequest(datasetId)), 400, 9);
});

test("an upload far over the request body limit is streamed to disk, not held in memory", async () => {
  const { datasetId } = await createDataset("large");
  const line = row("x".repeat(1000)) + "\n";
  const content = line.repeat(Math.ceil((48 << 20) / line.length));  // 48 MiB; max_body_size is 1 MiB
  const rssKiB = () => Number(readFileSync(`/proc/${server.process.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);
  const before = rssKiB();
  await upload(datasetId, content);
  const grown = rssKiB() - before;
  const d = (await get(`/datasets/v1/datasets/${datasetId}`)).json.dataset;
  assert.equal(d.sizeBytes, String(Buffer.byteLength(content)));
  const preview = await get(`/datasets/v1/datasets/${datasetId}:preview?lines=1`);
  assert.deepEqual(preview.json.previewLines, [line.trimEnd()]);
  if (process.env.FMSERVE_SANITIZED !== "1")  // ASan's quarantine holds freed memory by design
    assert.ok(grown < 16 * 1024, `resident memory grew ${grown} KiB for a 48 MiB upload`);
  // A URL that names no upload gets the ordinary body limit: nothing large is written for it.
  const stray = await fetch(`${server.url}/datasets/v1/uploads/${"0".repeat(48)}`, { method: "PUT", body: "x".repeat(2 << 20) });
  assert.equal(stray.status, 413);
  // A request body over the limit elsewhere is still refused before it is read.
  const big = await call("/datasets/v1/datasets", { name: "x", folderId: "b1gfold", taskType: "TextToTextGenerationRequest", uploadFormat: "jsonlines", description: "y".repeat(2 << 20) });
  assert.equal(big.status, 413);

  // The download is streamed from the file at the client's pace: a reader that stops for 3 s is waited for (not
  // dropped), the server does not hold the content in memory meanwhile, and every byte arrives.
  const op = await call(`/datasets/v1/datasets/${datasetId}:validate`, {});
  assert.equal((await poll(op.json.id, { timeoutMs: 120000 })).response.isValid, true);
  const urls = await get(`/datasets/v1/datasets/${datasetId}:getDownloadUrls`);
  const { get: httpGet } = await import("node:http");
  const baseline = rssKiB();
  let paused = 0;
  const got = await new Promise((resolve, reject) => {
    httpGet(urls.json.downloadUrls[0].url, (res) => {
      res.pause();
      setTimeout(() => {
        paused = rssKiB() - baseline;
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, length: res.headers["content-length"], body: Buffer.concat(chunks) }));
        res.resume();
      }, 3000);
    }).on("error", reject);
  });
  assert.equal(got.status, 200);
  assert.equal(got.length, String(Buffer.byteLength(content)));
  assert.ok(got.body.equals(Buffer.from(content)), "the downloaded bytes are the uploaded ones");
  if (process.env.FMSERVE_SANITIZED !== "1")
    assert.ok(paused < 16 * 1024, `resident memory grew ${paused} KiB while a 48 MiB download waited for its reader`);
});

test("an empty dataset is INVALID; a draft without content cannot be validated", async () => {
  const { datasetId } = await createDataset("empty");
  checkError(await call(`/datasets/v1/datasets/${datasetId}:validate`, {}), 400, 9);
  await upload(datasetId, "\n\n");
  const done = await poll((await call(`/datasets/v1/datasets/${datasetId}:validate`, {})).json.id);
  assert.equal(done.response.isValid, false);
  assert.equal(done.response.errors[0].error, "empty_dataset");
});

test("a multipart upload joins its parts in order and checks their ETags", async () => {
  const { datasetId } = await createDataset("multipart");
  const content = rows(30);
  const third = Math.ceil(content.length / 3);
  const parts = [content.slice(0, third), content.slice(third, 2 * third), content.slice(2 * third)];
  const start = await call(`/datasets/v1/datasets/${datasetId}:startMultipartUploadDraft`, { sizeBytes: String(content.length), parts: 3 });
  assert.equal(start.status, 200, start.text);
  assert.equal(start.json.multipartUploadUrls.length, 3);
  const etags = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(start.json.multipartUploadUrls[i], { method: "PUT", body: parts[i] });
    assert.equal(res.status, 200);
    etags.push(res.headers.get("etag"));
  }
  const wrong = await call(`/datasets/v1/datasets/${datasetId}:finishMultipartUploadDraft`,
                           { uploadedParts: [{ partNum: 1, etag: etags[1] }, { partNum: 2, etag: etags[1] }, { partNum: 3, etag: etags[2] }] });
  checkError(wrong, 400, 3);
  const fin = await call(`/datasets/v1/datasets/${datasetId}:finishMultipartUploadDraft`,
                         { uploadedParts: etags.map((etag, i) => ({ partNum: i + 1, etag })) });
  assert.deepEqual(fin.json, { datasetId });
  const done = await poll((await call(`/datasets/v1/datasets/${datasetId}:validate`, {})).json.id);
  assert.equal(done.response.isValid, true);
  assert.equal(await download(datasetId), content);
});

test("datasets are listed by folder, status and name, page by page; updated; deleted; other folders see none", async () => {
  const a = (await createDataset("list-alpha")).datasetId;
  const b = (await createDataset("list-beta")).datasetId;
  const page1 = await get("/datasets/v1/datasets?folderId=b1gfold&datasetNamePattern=list-&pageSize=1");
  assert.equal(page1.status, 200, page1.text);
  assert.deepEqual(page1.json.datasets.map((d) => d.datasetId), [a]);
  assert.ok(page1.json.nextPageToken);
  const page2 = await get(`/datasets/v1/datasets?folderId=b1gfold&datasetNamePattern=list-&pageSize=1&pageToken=${page1.json.nextPageToken}`);
  assert.deepEqual(page2.json.datasets.map((d) => d.datasetId), [b]);
  assert.equal(page2.json.nextPageToken, "");
  const drafts = await get("/datasets/v1/datasets?status=DRAFT&datasetNamePattern=list-");
  assert.equal(drafts.json.datasets.length, 2);
  const ready = await get("/datasets/v1/datasets?status=READY&datasetNamePattern=list-");
  assert.equal(ready.json.datasets.length, 0);
  const patched = await call(`/datasets/v1/datasets/${a}`, { updateMask: "name,labels", name: "list-renamed", labels: { k: "v" }, description: "ignored" }, { method: "PATCH" });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.dataset.name, "list-renamed");
  assert.deepEqual(patched.json.dataset.labels, { k: "v" });
  assert.equal(patched.json.dataset.description, "");
  checkError(await call(`/datasets/v1/datasets/${a}`, { updateMask: "status", name: "x" }, { method: "PATCH" }), 400, 3);
  // Another folder: its key sees nothing, and may not name this folder.
  checkError(await get(`/datasets/v1/datasets/${a}`, { apiKey: otherKey }), 404, 5);
  assert.equal((await get("/datasets/v1/datasets?datasetNamePattern=list-", { apiKey: otherKey })).json.datasets.length, 0);
  checkError(await get("/datasets/v1/datasets?folderId=b1gfold", { apiKey: otherKey }), 403, 7);
  checkError(await call("/datasets/v1/datasets", { name: "x", folderId: "b1gfold", taskType: "TextToTextGenerationRequest", uploadFormat: "jsonlines" }, { apiKey: otherKey }), 403, 7);
  checkError(await call(`/datasets/v1/datasets/${a}`, undefined, { method: "DELETE", apiKey: otherKey }), 404, 5);
  assert.deepEqual((await call(`/datasets/v1/datasets/${a}`, undefined, { method: "DELETE" })).json, {});
  checkError(await get(`/datasets/v1/datasets/${a}`), 404, 5);
  // Bad requests name the field.
  checkError(await call("/datasets/v1/datasets", { name: "x".repeat(64), folderId: "b1gfold", taskType: "TextToTextGenerationRequest", uploadFormat: "jsonlines" }), 400, 3);
  checkError(await call("/datasets/v1/datasets", { name: "x", folderId: "b1gfold", taskType: "Nope", uploadFormat: "jsonlines" }), 400, 3);
  checkError(await call("/datasets/v1/datasets", { name: "x", folderId: "b1gfold", taskType: "TextToTextGenerationRequest", uploadFormat: "csv" }), 400, 3);
  const upload = await fetch(`${server.url}/datasets/v1/uploads/${"0".repeat(48)}`, { method: "PUT", body: "x" });
  assert.equal(upload.status, 404);
  const types = await get("/datasets/v1/types");
  assert.ok(types.json.types.includes("ImageTextToTextGenerationRequest"));
  const schemas = await get("/datasets/v1/uploadSchemas?taskType=TextToTextGenerationRequest");
  assert.equal(schemas.json.schemas.length, 1);
  assert.deepEqual(JSON.parse(schemas.json.schemas[0].schema).required, ["request"]);
});

async function waitTask(operationId, timeoutMs = 120000) {
  const done = await poll(operationId, { timeoutMs });
  assert.equal(done.done, true, `batch operation ${operationId} finished in time`);
  return done;
}

test("a batch task runs every row and publishes a result dataset in input order", async () => {
  const n = 24;
  const source = await readyDataset("batch-source", rows(n));
  const op = await call("/foundationModels/v1/completionBatch", batchRequest(source));
  assert.equal(op.status, 200, op.text);
  assert.equal(op.json.metadata["@type"], "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.BatchCompletionMetadata");
  assert.equal(op.json.metadata.totalBatches, String(n));
  const taskId = op.json.metadata.taskId;
  const done = await waitTask(op.json.id);
  assert.equal(done.response["@type"], "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.BatchCompletionResponse");
  assert.equal(done.response.taskId, taskId);
  assert.equal(done.response.taskStatus, "COMPLETED");
  assert.equal(done.metadata.completedBatches, String(n));
  const task = (await get(`/batchInference/v1/tasks/${taskId}`)).json.task;
  assert.equal(task.status, "COMPLETED");
  assert.equal(task.operationId, op.json.id);
  assert.equal(task.sourceDatasetId, source);
  assert.equal(task.resultDatasetId, done.response.resultDatasetId);
  assert.ok(task.startedAt && task.finishedAt && task.createdAt);
  assert.deepEqual(task.errors, { status: {}, lineErrors: [], batchErrors: [] });
  const result = (await get(`/datasets/v1/datasets/${task.resultDatasetId}`)).json.dataset;
  assert.equal(result.status, "READY");
  assert.equal(result.taskType, "TextToTextGeneration");
  assert.equal(result.rows, String(n));
  assert.deepEqual(result.labels, { foundation_models_batch_task_id: taskId, foundation_models_source_dataset: source });
  const lines = (await download(task.resultDatasetId)).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, n);
  lines.forEach((l, i) => {
    assert.deepEqual(l.request, JSON.parse(row(i)).request, `row ${i} keeps its place`);
    assert.equal(typeof l.response, "string");
    assert.ok(l.response.length > 0);
  });
  // The same request, asked synchronously, gives the same greedy text as its batch row.
  const sync = await call("/foundationModels/v1/completion", { ...batchRequest(source), sourceDatasetId: undefined, messages: JSON.parse(row(3)).request });
  assert.equal(sync.json.result.alternatives[0].message.text, lines[3].response);
  // Listed in its folder only; deleted once ended.
  const listed = await get("/batchInference/v1/tasks?pageSize=1000");
  assert.ok(listed.json.tasks.some((t) => t.taskId === taskId));
  assert.equal((await get("/batchInference/v1/tasks", { apiKey: otherKey })).json.tasks.length, 0);
  checkError(await get(`/batchInference/v1/tasks/${taskId}`, { apiKey: otherKey }), 404, 5);
  checkError(await call(`/batchInference/v1/tasks/${taskId}:cancel`, {}), 400, 9);
  assert.deepEqual((await call(`/batchInference/v1/tasks/${taskId}`, undefined, { method: "DELETE" })).json, { taskId });
  checkError(await get(`/batchInference/v1/tasks/${taskId}`), 404, 5);
});

test("completionBatch refuses unknown models, other folders' datasets and non-generating models", async () => {
  const source = await readyDataset("batch-refusals", rows(2));
  checkError(await call("/foundationModels/v1/completionBatch", { ...batchRequest(source), modelUri: "gpt://b1gfold/nope/latest" }), 404, 5);
  checkError(await call("/foundationModels/v1/completionBatch", { ...batchRequest(source), modelUri: "gpt://b1gfold/embed/latest" }), 400, 3);
  checkError(await call("/foundationModels/v1/completionBatch", batchRequest("fdsnothere")), 404, 5);
  checkError(await call("/foundationModels/v1/completionBatch", { ...batchRequest(source), modelUri: "gpt://b2gother/aidreams/latest" }, { apiKey: otherKey }), 404, 5);
  checkError(await call("/foundationModels/v1/completionBatch", { modelUri: "gpt://b1gfold/aidreams/latest" }), 400, 3);
  // What every line would be refused for is refused up front: a schema the engine cannot enforce.
  const unenforceable = await call("/foundationModels/v1/completionBatch",
                                   { ...batchRequest(source), jsonSchema: { schema: { type: "array", uniqueItems: true } } });
  checkError(unenforceable, 400, 3);
  assert.match(unenforceable.json.error.message, /uniqueItems/);
});

test("a batch task with a JSON schema writes rows whose answers follow it", async () => {
  const source = await readyDataset("batch-structured", rows(3));
  const schema = { type: "object", properties: { mood: { enum: ["calm", "wild"] }, score: { type: "integer", minimum: 0, maximum: 9 } },
                   required: ["mood", "score"], additionalProperties: false };
  const op = await call("/foundationModels/v1/completionBatch", { ...batchRequest(source, 100), jsonSchema: { schema } });
  assert.equal(op.status, 200, op.text);
  const done = await waitTask(op.json.id);
  assert.equal(done.response.taskStatus, "COMPLETED");
  const out = (await download(done.response.resultDatasetId)).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(out.length, 3);
  for (const row of out) {
    assert.equal(typeof row.response, "string", JSON.stringify(row));
    const value = JSON.parse(row.response);
    assert.deepEqual(Object.keys(value), ["mood", "score"]);
    assert.ok(["calm", "wild"].includes(value.mood) && Number.isInteger(value.score) && value.score >= 0 && value.score <= 9);
  }
});

test("cancelling a running task stops new lines within a second and keeps the finished ones", async () => {
  const n = 400;
  const source = await readyDataset("batch-cancel", rows(n));
  const op = await call("/foundationModels/v1/completionBatch", batchRequest(source, 48));
  const taskId = op.json.metadata.taskId;
  for (let i = 0; i < 300; i++) {
    const m = (await get(`/operations/${op.json.id}`)).json.metadata;
    if (Number(m.completedBatches) >= 8) break;
    await sleep(100);
  }
  const cancel = await call(`/batchInference/v1/tasks/${taskId}:cancel`, {});
  assert.deepEqual(cancel.json, { taskId });
  const done = await waitTask(op.json.id, 10000);
  assert.equal(done.error.code, 1);
  let task;
  for (let i = 0; i < 50; i++) {  // the run publishes the finished lines once its last lines in flight have stopped
    task = (await get(`/batchInference/v1/tasks/${taskId}`)).json.task;
    const result = (await get(`/datasets/v1/datasets/${task.resultDatasetId}`)).json.dataset;
    if (result.status === "READY") break;
    await sleep(100);
  }
  assert.equal(task.status, "CANCELED");
  assert.equal(task.errors.status.code, 1);
  const lines = (await download(task.resultDatasetId)).split("\n").filter((l) => l);
  assert.ok(lines.length >= 8 && lines.length < n, `kept ${lines.length} finished lines`);
  const settled = lines.length;
  await sleep(1500);
  assert.equal(Number((await get(`/datasets/v1/datasets/${task.resultDatasetId}`)).json.dataset.rows), settled, "no line finished after the cancel");
});

test("a task SIGKILLed at random moments ends with exactly one result per line", async () => {
  const n = 1500;
  const source = await readyDataset("batch-kill", rows(n));
  const op = await call("/foundationModels/v1/completionBatch", { ...batchRequest(source, 24), modelUri: "gpt://b1gfold/qwen/latest" });
  const taskId = op.json.metadata.taskId;
  // Kill while lines are in flight: after a random pause once the task has started, three times over.
  const progressAtKill = [];
  for (let kill = 0; kill < 3; kill++) {
    for (let i = 0; i < 200; i++) {
      const task = (await get(`/batchInference/v1/tasks/${taskId}`)).json.task;
      if (task.status === "IN_PROGRESS") break;
      await sleep(25);
    }
    await sleep(100 + Math.floor(Math.random() * 1400));
    const before = (await get(`/operations/${op.json.id}`)).json;
    progressAtKill.push(Number(before.metadata.completedBatches));
    assert.equal(before.done, false, `the task was still running at kill ${kill + 1}: ${JSON.stringify(before)}`);
    await stopServer(server.process, "SIGKILL");
    server = await startServer();
  }
  const done = await waitTask(op.json.id);
  assert.equal(done.response.taskStatus, "COMPLETED", JSON.stringify(done));
  const task = (await get(`/batchInference/v1/tasks/${taskId}`)).json.task;
  const lines = (await download(task.resultDatasetId)).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, n, `results after kills at progress ${progressAtKill}`);
  lines.forEach((l, i) => {
    assert.deepEqual(l.request, JSON.parse(row(i)).request, `row ${i} once, in its place`);
    assert.equal(typeof l.response, "string");
  });
  assert.equal((await get(`/datasets/v1/datasets/${task.resultDatasetId}`)).json.dataset.rows, String(n));
  assert.deepEqual(task.errors.lineErrors, []);
});

test("a crash right after a task reserves its result dataset leaves no second result dataset", async () => {
  const source = await readyDataset("batch-crash-point", rows(3));
  await stopServer(server.process);
  server = await startServer({ FMSERVE_CRASH_POINT: "batch.result_reserved" });
  // The task starts as soon as it is stored, so the crash may come before the reply is written: the client then sees
  // the connection fail, and finds its task by the source dataset once the server is back.
  let op = null;
  try {
    op = await call("/foundationModels/v1/completionBatch", batchRequest(source));
    assert.equal(op.status, 200, op.text);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;  // fetch failed
  }
  const dead = server.process;
  const exited = dead.exitCode !== null || dead.signalCode !== null ? dead.signalCode : await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 30000);
    dead.on("exit", (code, signal) => { clearTimeout(timer); resolve(signal); });
  });
  assert.equal(exited, "SIGKILL", "the server died at the crash point");
  server = await startServer();
  let operationId = op?.json.id, taskId = op?.json.metadata.taskId;
  for (let i = 0; !operationId && i < 300; i++) {
    const task = (await get("/batchInference/v1/tasks?folderId=b1gfold&pageSize=1000")).json.tasks.find((t) => t.sourceDatasetId === source);
    if (task?.operationId) ({ operationId, taskId } = task);
    else await sleep(100);
  }
  assert.ok(operationId, "the task was stored before the crash");
  const done = await waitTask(operationId);
  assert.equal(done.response.taskStatus, "COMPLETED", JSON.stringify(done));
  const listed = (await get(`/datasets/v1/datasets?folderId=b1gfold&datasetNamePattern=batch-${taskId}&pageSize=100`)).json;
  const named = listed.datasets.filter((d) => d.name === `batch-${taskId}`);
  assert.deepEqual(named.map((d) => d.datasetId), [done.response.resultDatasetId]);
  assert.equal(named[0].status, "READY");
  assert.equal((await download(done.response.resultDatasetId)).trimEnd().split("\n").length, 3);
});
