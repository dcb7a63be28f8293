// Workflows through a live server: YaWL documents of the service's tutorial shapes run on the fixture models
// (greedy, so every model output is compared with the synchronous completion API), texts fetched with httpCall
// from a loopback server that counts every request, retries, catch, bad documents, and a SIGKILL in the middle of
// a foreach of model calls followed by a restart that finishes it with every call made exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { binary, fixtures, createKey, startServer, stopServer, sleep } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-workflows-"));
const dataDir = join(work, "data");
const config = join(work, "config.yaml");
let server, key, texts, textsUrl;
const hits = new Map();  // path -> requests seen

const vision = join(fixtures, "vision");
const manifest = JSON.parse(readFileSync(join(vision, "MANIFEST.json"), "utf8"));
const picture = (name) => readFileSync(join(vision, manifest.images[name].file));

const docs = ["The cat sat on the mat.", "Rain fell all night long.", "A ship left the harbour at dawn.",
              "Bread rises in a warm oven.", "The old clock stopped at noon.", "Bees carry pollen home."];

before(async () => {
  // The loopback endpoints: texts, a flaky one (503 twice, then 200) and a missing one.
  texts = createServer((req, res) => {
    hits.set(req.url, (hits.get(req.url) ?? 0) + 1);
    const n = hits.get(req.url);
    if (req.url === "/texts") return res.end(JSON.stringify({ texts: docs.slice(0, 3) }));
    if (req.url.startsWith("/doc/")) return res.end(JSON.stringify({ text: docs[Number(req.url.slice(5))] }));
    if (req.url === "/picture.png") return res.end(picture("tall300x1000"));
    if (req.url === "/flaky") return n <= 2 ? (res.statusCode = 503, res.end("busy")) : res.end("plain text, not JSON");
    res.statusCode = 404;
    res.end("no such thing");
  });
  await new Promise((r) => texts.listen(0, "127.0.0.1", r));
  textsUrl = `http://127.0.0.1:${texts.address().port}`;
  const g = manifest.goldens.gemma3v;
  const classifier = join(work, "sentiment.gguf");
  execFileSync(binary, ["model", "synth", "--shape", "tiny-qwen3", "--type", "F16", "--classifier-labels", "positive,negative",
                        "--pooling", "last", "-o", classifier]);
  writeFileSync(join(work, "bos.jinja"), "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
  writeFileSync(config, `models:
  - name: qwen
    context: 512
    branches: {latest: ${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf}
  - name: sentiment
    kind: classifier
    context: 128
    branches: {latest: ${classifier}}
  - name: gemma3v
    kind: vision
    context: 1024
    chat_template: ${join(work, "bos.jinja")}
    mmproj: ${join(vision, g.mmproj)}
    branches: {latest: ${join(vision, g.text_model)}}
image_fetch:
  allow_hosts: [127.0.0.1]
workflows:
  template_timeout: 2s
`);
  key = createKey(dataDir, "b1gfold");
  server = await startServer(config, dataDir, 2);
});

after(async () => {
  await stopServer(server.process);
  texts.close();
});

async function call(method, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { Authorization: `Api-Key ${key}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function createWorkflow(doc, name = "wf") {
  const r = await call("POST", "/workflows/v1/workflow", { folderId: "b1gfold", name, specification: { specYaml: JSON.stringify(doc) } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.done, true);
  return r.json.response.id;
}

async function startExecution(workflowId, input) {
  const r = await call("POST", "/workflows/v1/execution/start", { workflowId, input: { inputJson: JSON.stringify(input) } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.executionId;
}

// Polls (bounded: 600 × 100 ms) until the execution has ended; returns {execution, entries}.
async function finished(id) {
  for (let i = 0; i < 600; ++i) {
    const r = await call("GET", `/workflows/v1/execution/${id}/history`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    if (!["QUEUED", "RUNNING"].includes(r.json.execution.status)) return r.json;
    await sleep(100);
  }
  throw new Error(`execution ${id} did not end in 60 s`);
}

async function run(doc, input) {
  return finished(await startExecution(await createWorkflow(doc), input));
}

// What the synchronous API answers for one user message, greedily.
async function complete(text, maxTokens = 12) {
  const r = await call("POST", "/foundationModels/v1/completion", {
    modelUri: "gpt://b1gfold/qwen", completionOptions: { temperature: 0, maxTokens: String(maxTokens) },
    messages: [{ role: "user", text }] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.result.alternatives[0].message.text;
}

const generate = (text, maxTokens = 12) => ({
  modelUrl: "gpt://b1gfold/qwen/latest",
  generate: { temperature: 0, maxTokens, messages: { messages: [{ role: "user", text }] } },
});

test("httpCall → foreach of generate → noOp report: each answer is the synchronous API's", async () => {
  const doc = {
    yawl: "0.1", start: "fetch",
    steps: {
      fetch: { title: "Fetch the texts", httpCall: { url: `${textsUrl}/texts`, output: "\\({docs: .texts})", next: "each" } },
      each: {
        foreach: {
          input: "\\(.docs)", concurrency: 2,
          do: { start: "summarize", steps: { summarize: { foundationModelsCall: {
            ...generate("Summarise: \\(.input)"), output: "\\({summary: .alternatives.[0].message.text})" } } } },
          output: "\\({summaries: [.[].summary]})", next: "report" },
      },
      report: { noOp: { output: "\\({count: (.summaries | length), first: .summaries[0]})" } },
    },
  };
  const h = await run(doc, { topic: "tests" });
  assert.equal(h.execution.status, "FINISHED", JSON.stringify(h.execution));
  const result = JSON.parse(h.execution.result.resultJson);
  const expected = [];
  for (const d of docs.slice(0, 3)) expected.push(await complete(`Summarise: ${d}`));
  assert.deepEqual(result.summaries, expected);
  assert.equal(result.count, 3);
  assert.equal(result.first, expected[0]);
  assert.equal(result.topic, "tests", "the input's keys are in the state");
  assert.deepEqual(result.input, { topic: "tests" });
  // History: one entry per step run, in finishing order (the foreach after its iterations).
  const ids = h.entries.map((e) => e.id);
  assert.equal(ids.length, 1 + 3 + 1 + 1, JSON.stringify(ids));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(h.entries.filter((e) => e.type === "foundationModelsCall").map((e) => e.id).sort(),
                   ["each#0[0]/summarize#0", "each#0[1]/summarize#0", "each#0[2]/summarize#0"]);
  assert.equal(h.entries[0].title, "Fetch the texts");
  assert.ok(h.entries.every((e) => e.status === "COMPLETED" && e.attempts === "1"));
});

test("switch on a fewShotClassify result, parallel branches, while with $counter", async () => {
  const doc = {
    yawl: "0.1", start: "classify",
    steps: {
      classify: { foundationModelsCall: {
        modelUrl: "cls://b1gfold/qwen",
        fewShotClassify: { taskDescription: "Topic", text: "\\(.text)", labelsArray: { labels: ["weather", "animals"] },
                           samplesArray: { samples: [{ text: "It snowed", label: "weather" }] } },
        output: "\\({label: (.predictions | max_by(.confidence) | .label), labels: [.predictions[].label]})", next: "route" } },
      route: { switch: { choices: [{ condition: "\\(.label == \"weather\")", next: "weather" }, { condition: ".label == \"animals\"", next: "animals" }] } },
      weather: { noOp: { output: "\\({routed: \"weather\"})", next: "both" } },
      animals: { noOp: { output: "\\({routed: \"animals\"})", next: "both" } },
      both: { parallel: {
        branches: {
          a: { start: "x", steps: { x: { noOp: { output: "\\({v: (.routed + \"-a\")})" } } } },
          b: { start: "y", steps: { y: { foundationModelsCall: { ...generate("Say \\(.routed)", 6), output: "\\({v: .alternatives[0].message.text})" } } } },
        },
        output: "\\({a: .a.v, b: .b.v})", next: "count" } },
      count: { while: { input: "\\({n: 0, seen: []})", condition: "\\($counter < 4)",
                        do: { start: "inc", steps: { inc: { noOp: { output: "\\({n: (.n + 1), seen: (.seen + [$counter])})" } } } },
                        output: "\\({loops: .n, seen: .seen})" } },
    },
  };
  const h = await run(doc, { text: "The dog barked at the rain" });
  assert.equal(h.execution.status, "FINISHED", JSON.stringify(h.execution));
  const r = JSON.parse(h.execution.result.resultJson);
  // The label the service's own classification gives decides the branch.
  const direct = await call("POST", "/foundationModels/v1/fewShotTextClassification", {
    modelUri: "cls://b1gfold/qwen", taskDescription: "Topic", labels: ["weather", "animals"], text: "The dog barked at the rain",
    samples: [{ text: "It snowed", label: "weather" }] });
  const best = direct.json.predictions.reduce((a, b) => (b.confidence > a.confidence ? b : a)).label;
  assert.equal(r.label, best);
  assert.equal(r.routed, best);
  assert.equal(r.a, `${best}-a`);
  assert.equal(r.b, await complete(`Say ${best}`, 6));
  assert.equal(r.loops, 4);
  assert.deepEqual(r.seen, [0, 1, 2, 3]);
});

test("retries on a flaky endpoint, then catch on a 404; fail ends the execution with STEP_FAIL", async () => {
  const doc = {
    yawl: "0.1", start: "flaky",
    steps: {
      flaky: { httpCall: { url: `${textsUrl}/flaky`, output: "\\({flaky: .})",
                           retryPolicy: { errorList: ["HTTP_CALL_503"], initialDelay: "50ms", backoffRate: 2, retryCount: 3 }, next: "missing" } },
      missing: { httpCall: { url: `${textsUrl}/missing`, next: "never",
                             catch: [{ errorList: ["HTTP_CALL_500"], next: "never" },
                                     { errorList: ["HTTP_CALL_404"], output: "\\({caught: .error, why: .message})", next: "done" }] } },
      never: { fail: { errorMessage: "wrong branch" } },
      done: { success: {} },
    },
  };
  const before404 = hits.get("/missing") ?? 0;
  const h = await run(doc, {});
  assert.equal(h.execution.status, "FINISHED", JSON.stringify(h.execution));
  const r = JSON.parse(h.execution.result.resultJson);
  assert.equal(r.flaky, "plain text, not JSON");
  assert.equal(r.caught, "HTTP_CALL_404");
  assert.match(r.why, /404/);
  assert.equal(hits.get("/flaky"), 3);
  assert.equal(hits.get("/missing") - before404, 1, "a 404 is not in the (absent) retry policy");
  const flaky = h.entries.find((e) => e.id === "flaky#0");
  assert.equal(flaky.attempts, "3");
  const missing = h.entries.find((e) => e.id === "missing#0");
  assert.equal(missing.status, "FAILED");
  assert.equal(missing.error.errorCode, "HTTP_CALL_404");

  // An internal address not in image_fetch.allow_hosts (the host "localhost" is not listed) is refused.
  const refused = await run({ yawl: "0.1", start: "l", steps: { l: { httpCall: { url: `${textsUrl.replace("127.0.0.1", "localhost")}/texts` } } } }, {});
  assert.equal(refused.execution.status, "FAILED");
  assert.equal(refused.execution.error.errorCode, "STEP_INVALID_ARGUMENT");
  assert.match(refused.execution.error.message, /internal address/);

  // A template that never ends is stopped at workflows.template_timeout: the step fails, the server goes on.
  const t0 = Date.now();
  const looping = await run({ yawl: "0.1", start: "l", steps: { l: { noOp: { output: "\\({n: ([range(1e12)] | length)})" } } } }, {});
  assert.equal(looping.execution.status, "FAILED");
  assert.equal(looping.execution.error.errorCode, "STEP_INVALID_TEMPLATE_EXPRESSION");
  assert.match(looping.execution.error.message, /ran longer than 2000 ms/);
  assert.ok(Date.now() - t0 < 20000);

  const failing = await run({ yawl: "0.1", start: "f", steps: { f: { fail: { errorMessage: "stopped at \\(.input.n)" } } } }, { n: 7 });
  assert.equal(failing.execution.status, "FAILED");
  assert.deepEqual(failing.execution.error, { message: "stopped at 7", errorCode: "STEP_FAIL" });
});

test("vision steps with a base64 image and with an image URL answer as the chat API does", async () => {
  const look = (images, next) => ({ foundationModelsCall: {
    modelUrl: "gpt://b1gfold/gemma3v",
    vision: { temperature: 0, maxTokens: 6, messages: { messages: [{ role: "user", text: "Describe \\(.what)", images }] } },
    output: next ? "\\({first: .alternatives[0].message.text})" : "\\({second: .alternatives[0].message.text})", next } });
  const doc = { yawl: "0.1", start: "a", steps: {
    a: look([{ base64: "\\(.b64)" }], "b"),
    b: look({ file: { url: `${textsUrl}/picture.png` } }) } };
  const b64 = picture("tiny64").toString("base64");
  const h = await run(doc, { what: "this picture", b64 });
  assert.equal(h.execution.status, "FINISHED", JSON.stringify(h.execution).slice(-300));
  const chat = async (bytes, mime) => {
    const r = await call("POST", "/v1/chat/completions", {
      model: "gpt://b1gfold/gemma3v/latest", temperature: 0, max_tokens: 6,
      messages: [{ role: "user", content: [{ type: "text", text: "Describe this picture" },
                                           { type: "image_url", image_url: { url: `data:${mime};base64,${bytes.toString("base64")}` } }] }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.choices[0].message.content;
  };
  const result = JSON.parse(h.execution.result.resultJson);
  assert.equal(result.first, await chat(picture("tiny64"), "image/jpeg"));
  assert.equal(result.second, await chat(picture("tall300x1000"), "image/png"));
  assert.equal(hits.get("/picture.png"), 1);
});

test("stop ends an execution after its running step; terminate ends a wait at once", async () => {
  const doc = { yawl: "0.1", start: "first", steps: {
    first: { wait: { duration: "1s", next: "second" } },
    second: { noOp: { output: "\\({reached: true})" } } } };
  const wf = await createWorkflow(doc, "stoppable");
  const a = await startExecution(wf, {});
  await sleep(200);
  assert.equal((await call("POST", `/workflows/v1/execution/${a}/stop`, {})).status, 200);
  const stopped = await finished(a);
  assert.equal(stopped.execution.status, "STOPPED");
  assert.ok(!stopped.entries.some((e) => e.id === "second#0"));
  const b = await startExecution(wf, {});
  await sleep(200);
  const t0 = Date.now();
  assert.equal((await call("POST", `/workflows/v1/execution/${b}/terminate`, {})).status, 200);
  const terminated = await finished(b);
  assert.equal(terminated.execution.status, "STOPPED");
  assert.ok(Date.now() - t0 < 900, "terminate does not wait for the step");
  const list = await call("GET", `/workflows/v1/execution?workflowId=${wf}`);
  assert.deepEqual(list.json.executions.map((e) => e.id).sort(), [a, b].sort());
});

test("generate with messages as JSON text and jsonObject; classify on a classifier head", async () => {
  const doc = { yawl: "0.1", start: "gen", steps: {
    gen: { foundationModelsCall: { modelUrl: "gpt://b1gfold/qwen",
      generate: { temperature: 0, maxTokens: 40, jsonObject: true, json: "\\({messages: [{role: \"user\", text: (\"Describe \" + .thing)}]} | tojson)" },
      output: "\\({doc: .alternatives[0].message.text})", next: "cls" } },
    cls: { foundationModelsCall: { modelUrl: "cls://b1gfold/sentiment", classify: { text: "\\(.thing)" },
      output: "\\({predictions: .predictions})" } } } };
  const h = await run(doc, { thing: "a red ball" });
  assert.equal(h.execution.status, "FINISHED", JSON.stringify(h.execution));
  const r = JSON.parse(h.execution.result.resultJson);
  const direct = await call("POST", "/foundationModels/v1/completion", {
    modelUri: "gpt://b1gfold/qwen", completionOptions: { temperature: 0, maxTokens: "40" }, jsonObject: true,
    messages: [{ role: "user", text: "Describe a red ball" }] });
  assert.equal(r.doc, direct.json.result.alternatives[0].message.text);
  if (direct.json.result.alternatives[0].status === "ALTERNATIVE_STATUS_FINAL") assert.equal(typeof JSON.parse(r.doc), "object");
  const cls = await call("POST", "/foundationModels/v1/textClassification", { modelUri: "cls://b1gfold/sentiment", text: "a red ball" });
  assert.equal(cls.status, 200, JSON.stringify(cls.json));
  assert.deepEqual(r.predictions, cls.json.predictions);
});

test("folders and scopes: another folder's key sees nothing, a key without a model scope is refused", async () => {
  const wf = await createWorkflow({ yawl: "0.1", start: "a", steps: { a: { success: {} } } }, "private");
  const ex = await startExecution(wf, {});
  await finished(ex);
  const other = createKey(dataDir, "otherfold");
  const as = async (k, method, path, body) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { Authorization: `Api-Key ${k}` }, body: body && JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  };
  assert.equal((await as(other, "GET", `/workflows/v1/workflow/${wf}`)).status, 404);
  assert.equal((await as(other, "GET", `/workflows/v1/execution/${ex}`)).status, 404);
  assert.equal((await as(other, "POST", "/workflows/v1/execution/start", { workflowId: wf })).status, 404);
  assert.deepEqual((await as(other, "GET", "/workflows/v1/workflow")).json.workflows, []);
  const art = createKey(dataDir, "b1gfold", "--scope", "yc.ai.imageGeneration.execute");
  assert.equal((await as(art, "GET", `/workflows/v1/workflow/${wf}`)).status, 403);
  assert.equal((await as("nope", "GET", `/workflows/v1/workflow/${wf}`)).status, 401);
});

test("bad documents are refused with the path of every problem", async () => {
  const doc = {
    yawl: "0.1", start: "go",
    steps: {
      go: { foundationModelsCall: { modelUrl: "gpt://b1gfold/qwen", generate: { messages: { messages: [{ role: "user", text: "x" }] } }, next: "nowhere" } },
      loop: { foreach: { input: "\\(.x", do: { start: "in", steps: { in: { noOp: { next: "go" } } } } } },
      odd: { wait: { duration: "soon" }, noOp: {} },
    },
  };
  const r = await call("POST", "/workflows/v1/workflow", { folderId: "b1gfold", name: "bad", specification: { specYaml: JSON.stringify(doc) } });
  assert.equal(r.status, 400);
  const m = r.json.error.message;
  for (const expected of ["steps.go.foundationModelsCall.generate.maxTokens: required", "steps.go.foundationModelsCall.next: no step 'nowhere'",
                          "steps.loop.foreach.input: unbalanced", "steps.loop.foreach.do.steps.in.noOp.next: step 'go' is outside this body",
                          "steps.odd: has more than one step type"])
    assert.ok(m.includes(expected), `${expected} in ${m}`);
  const yaml = await call("POST", "/workflows/v1/workflow", { folderId: "b1gfold", name: "y", specification: { specYaml: "yawl: '0.1'\nstart: [" } });
  assert.equal(yaml.status, 400);
  const other = await call("POST", "/workflows/v1/workflow", { folderId: "otherfolder", name: "x", specification: { specYaml: "{}" } });
  assert.equal(other.status, 403);
  const unknown = await call("GET", "/workflows/v1/execution/nope");
  assert.equal(unknown.status, 404);
  // A model of another folder: the step fails with STEP_INVALID_ARGUMENT.
  const h = await run({ yawl: "0.1", start: "g", steps: { g: { foundationModelsCall: { ...generate("x"), modelUrl: "gpt://elsewhere/qwen" } } } }, {});
  assert.equal(h.execution.status, "FAILED");
  assert.equal(h.execution.error.errorCode, "STEP_INVALID_ARGUMENT");
});

test("workflows are listed, read, updated and deleted", async () => {
  const id = await createWorkflow({ yawl: "0.1", start: "a", steps: { a: { success: {} } } }, "crud");
  const got = await call("GET", `/workflows/v1/workflow/${id}`);
  assert.equal(got.json.name, "crud");
  const upd = await call("PATCH", `/workflows/v1/workflow/${id}`, { name: "renamed", labels: { team: "x" } });
  assert.equal(upd.status, 200, JSON.stringify(upd.json));
  assert.equal(upd.json.response.name, "renamed");
  const list = await call("GET", "/workflows/v1/workflow?folderId=b1gfold");
  assert.ok(list.json.workflows.some((w) => w.id === id && w.labels.team === "x"));
  const del = await call("DELETE", `/workflows/v1/workflow/${id}`);
  assert.equal(del.status, 200);
  assert.equal((await call("GET", `/workflows/v1/workflow/${id}`)).status, 404);
});

// The server kills itself (SIGKILL) right after the first model call of the foreach is journalled; a restart
// without the crash point finishes the execution.
test("SIGKILL in the middle of a foreach of model calls: the restarted server finishes it, every call made once", async () => {
  const doc = {
    yawl: "0.1", start: "each",
    steps: {
      each: { foreach: {
        input: "\\(.ids)",
        do: { start: "fetch", steps: {
          fetch: { httpCall: { url: `${textsUrl}/doc/\\(.input)`, output: "\\({text: .text})", next: "answer" } },
          answer: { foundationModelsCall: { ...generate("Continue: \\(.text)", 24), output: "\\({answer: .alternatives[0].message.text})" } },
        } },
        output: "\\({answers: [.[].answer]})" } },
    },
  };
  const ids = [0, 1, 2, 3, 4, 5];
  await stopServer(server.process);
  server = await startServer(config, dataDir, 2, { FMSERVE_CRASH_POINT: "workflow.model_call_recorded" });
  const exited = new Promise((resolve) => server.process.on("exit", (code, signal) => resolve(signal)));
  const id = await startExecution(await createWorkflow(doc, "killed"), { ids });
  assert.equal(await Promise.race([exited, sleep(60000).then(() => "still running")]), "SIGKILL");
  assert.equal(hits.get("/doc/0"), 1);
  assert.equal(hits.get("/doc/1"), undefined, "the foreach was in its first iteration");
  server = await startServer(config, dataDir, 2);
  const h = await finished(id);
  assert.equal(h.execution.status, "FINISHED", JSON.stringify(h.execution));
  // Every text fetched exactly once across the crash, every model call in the history exactly once, each answer the
  // synchronous API's.
  for (const i of ids) assert.equal(hits.get(`/doc/${i}`), 1, `/doc/${i} fetched once`);
  const calls = h.entries.filter((e) => e.type === "foundationModelsCall");
  assert.deepEqual(calls.map((e) => e.id).sort(), ids.map((i) => `each#0[${i}]/answer#0`));
  assert.ok(calls.every((e) => e.attempts === "1"));
  // The calls counted: the killed process made exactly one model call (it died right after journalling it), the
  // restarted one made the other five.
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`fmserve_workflow_calls_total\\{type="foundationModelsCall"\\} ${ids.length - 1}\n`));
  assert.match(metrics, new RegExp(`fmserve_workflow_calls_total\\{type="httpCall"\\} ${ids.length - 1}\n`));
  const result = JSON.parse(h.execution.result.resultJson);
  for (const i of ids) assert.equal(result.answers[i], await complete(`Continue: ${docs[i]}`, 24));
});
