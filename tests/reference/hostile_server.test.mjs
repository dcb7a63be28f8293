// A live `fmserve serve` under hostile clients: 2,000 randomly mutated requests over every route (each answered
// with a 2xx, or a 4xx with a JSON error body; the process alive; resident memory back within 10 % afterwards),
// clients that send slowly, and a client that stops reading its stream. Every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import net from "node:net";
import { mkdtempSync, writeFileSync, readFileSync, openSync, closeSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, fixtures, createKey, startServer, stopServer, sleep } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-hostile-"));
const dataDir = join(work, "data");

let server, base, key;

before(async () => {
  const config = join(work, "config.yaml");
  writeFileSync(config, `max_body_size: 4MiB
limits: {header_timeout: 2s, body_timeout: 5s, stream_buffer: 256KiB}
models:
  - name: aidreams
    context: 128
    branches: {latest: ${fixtures}/models/aidreams260K.gguf}
  - name: qwen
    context: 512
    branches: {latest: ${fixtures}/models/synthetic/syn-qwen3-Q8_0.gguf}
  - name: embed
    kind: embedding
    context: 64
    branches: {latest: ${fixtures}/models/synthetic/syn-qwen3-F32.gguf}
`);
  key = createKey(dataDir, "f1");
  const started = await startServer(config, dataDir, 2);
  server = started.process;
  base = started.url;
});

after(() => stopServer(server));

const rssKiB = () => Number(readFileSync(`/proc/${server.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);
const metric = async (name) => Number((await (await fetch(`${base}/metrics`)).text()).match(new RegExp(`^${name} ([0-9.]+)`, "m"))[1]);

// Valid requests of every route; the mutations below start from these.
const valid = () => [
  ["POST", "/v1/chat/completions", { model: "gpt://f1/aidreams/latest", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: [{ type: "text", text: "I dreamed" }] }], max_tokens: 8, temperature: 0.5, n: 2, logprobs: true, top_logprobs: 2, stop: ["xyz"] }],
  ["POST", "/v1/chat/completions", { model: "aidreams", messages: [{ role: "user", content: "hi" }], max_completion_tokens: 6, stream: true, stream_options: { include_usage: true } }],
  ["POST", "/v1/completions", { model: "gpt://f1/qwen", prompt: "The robot", max_tokens: 6, temperature: 0, logprobs: 2, seed: 4 }],
  ["GET", "/v1/models", null],
  ["POST", "/foundationModels/v1/completion", { modelUri: "gpt://f1/aidreams/latest", completionOptions: { temperature: 0.3, maxTokens: "8" }, messages: [{ role: "system", text: "x" }, { role: "user", text: "I dreamed" }] }],
  ["POST", "/foundationModels/v1/completion", { modelUri: "gpt://f1/qwen/", completionOptions: { stream: true, maxTokens: 6 }, messages: [{ role: "user", text: "hello" }] }],
  ["POST", "/foundationModels/v1/completionAsync", { modelUri: "gpt://f1/aidreams", completionOptions: { maxTokens: 4 }, messages: [{ role: "user", text: "a" }] }],
  ["POST", "/foundationModels/v1/tokenize", { modelUri: "gpt://f1/qwen/latest", text: "Hello world <|im_start|>" }],
  ["POST", "/foundationModels/v1/tokenizeCompletion", { modelUri: "gpt://f1/aidreams", messages: [{ role: "user", text: "a b c" }] }],
  ["POST", "/foundationModels/v1/textEmbedding", { modelUri: "emb://f1/embed/latest", text: "hello there", dim: 8 }],
  ["POST", "/v1/embeddings", { model: "emb://f1/embed", input: ["a b", [317, 263]], dimensions: 16 }],
  ["POST", "/foundationModels/v1/fewShotTextClassification", { modelUri: "cls://f1/qwen", taskDescription: "Topic", labels: ["billing", "delivery"], text: "Where is it?", samples: [{ text: "charged twice", label: "billing" }] }],
  ["GET", "/operations/fm00000000000000000000", null],
  ["GET", "/operations/fm00000000000000000000:cancel", null],
  ["GET", "/health", null], ["GET", "/ready", null], ["GET", "/metrics", null],
];

// A deterministic generator, so a failure can be replayed.
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32);
}

function nodesOf(value, out = []) {
  if (value && typeof value === "object") {
    out.push(value);
    for (const v of Object.values(value)) nodesOf(v, out);
  }
  return out;
}

function mutate(body, r) {
  const pick = (a) => structuredClone(a[Math.floor(r() * a.length)]);
  const scalars = [null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 63, "", "x".repeat(1 + Math.floor(r() * 3000)), [], {}, "\u0000", "\ud800"];
  if (body === null) return pick(["", "{}", "[]", "null", "{\"a\":1}"]);
  const tree = structuredClone(body);
  const steps = 1 + Math.floor(r() * 3);
  for (let i = 0; i < steps; i++) {
    const nodes = nodesOf(tree);
    const node = nodes[Math.floor(r() * nodes.length)];
    const keys = Object.keys(node);
    const k = keys.length ? keys[Math.floor(r() * keys.length)] : "extra";
    switch (Math.floor(r() * 6)) {
      case 0: node[k] = pick(scalars); break;                                   // wrong type / value
      case 1: { let v = node[k]; for (let d = Math.floor(r() * 200); d > 0; d--) v = r() < 0.5 ? [v] : { v }; node[k] = v; break; }  // deeper
      case 2: delete node[k]; break;                                            // missing
      case 3: node[k] = Array.from({ length: 1 + Math.floor(r() * 300) }, () => node[k]); break;  // bigger
      case 4: node[pick(["role", "text", "content", "model", "modelUri", "messages", "stream", "n"])] = pick(scalars); break;
      default: break;
    }
  }
  let text = JSON.stringify(tree);
  switch (Math.floor(r() * 8)) {                                                // textual mutations
    case 0: text = text.replace("{", `{${text.slice(1, text.indexOf(",") > 0 ? text.indexOf(",") : 1)},`); break;  // duplicate key
    case 1: text = text.replace(/"([^"]*)"/, "\"$1\xff\xfe\""); break;          // becomes invalid UTF-8 below
    case 2: text = text.replace(/\d+/, pick(["1e400", "-1e400", "18446744073709551616", "123456789012345678901234567890"])); break;
    case 3: text = text.replace(/"/, "\"\u0000"); break;                         // raw NUL byte
    case 4: text = text.slice(0, Math.floor(r() * text.length)); break;          // truncated
    default: break;
  }
  return text;
}

async function send(method, path, text) {
  const bytes = Buffer.from(text, "latin1").toString("latin1") === text ? Buffer.from(text, "latin1") : Buffer.from(text);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60000);
  try {
    const res = await fetch(`${base}${path}`, {
      method, signal: controller.signal,
      headers: { Authorization: `Api-Key ${key}`, "Content-Type": "application/json" },
      body: method === "GET" ? undefined : bytes,
    });
    return { status: res.status, text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

test("2,000 mutated requests: 2xx or 4xx with a JSON error, the server alive, memory back", async () => {
  const routes = valid();
  // Warm up: both models loaded, every route answered once, so the baseline holds what a serving process holds.
  for (const [method, path, body] of routes) await send(method, path, body === null ? "" : JSON.stringify(body));
  await sleep(500);
  const start = rssKiB();
  const r = rng(20261125);
  const failures = [];
  let next = 0;
  const worker = async () => {
    while (next < 2000) {
      const i = next++;
      const [method, path, body] = routes[Math.floor(r() * routes.length)];
      const text = mutate(body, r);
      // Over max_body_size (4 MiB) the server answers 413 before reading the body, then drains it and closes.
      const tooLarge = Buffer.byteLength(text) > 4 << 20;
      let res;
      try {
        res = await send(method, path, text);
      } catch (e) {
        failures.push(`#${i} ${method} ${path} -> ${e.message} (${e.cause?.code ?? e.cause} ${e.cause?.message} bytes=${Buffer.byteLength(text)}) for ${text.slice(0, 200)}`);
        continue;
      }
      if (tooLarge && res.status !== 413) failures.push(`#${i} ${Buffer.byteLength(text)} bytes -> ${res.status}, not 413`);
      const ok2xx = res.status >= 200 && res.status < 300;
      const ok4xx = res.status >= 400 && res.status < 500 && (() => {
        try { const e = JSON.parse(res.text).error; return typeof e?.message === "string" && e.message.length > 0; } catch { return false; }
      })();
      const readiness = path === "/ready";
      if (!ok2xx && !ok4xx && !readiness) failures.push(`#${i} ${method} ${path} -> ${res.status} ${res.text.slice(0, 200)} for ${text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 12 }, worker));
  assert.deepEqual(failures, []);
  assert.equal(server.exitCode, null, "the server is alive");
  assert.equal((await fetch(`${base}/health`)).status, 200);
  // Let in-flight work and async operations drain, then compare resident memory with the start.
  for (let i = 0; i < 100 && ((await metric("fmserve_requests_running")) > 0 || (await metric("fmserve_requests_waiting")) > 0); i++) await sleep(100);
  await sleep(3000);  // the server hands freed memory back once a second while idle
  const end = rssKiB();
  if (process.env.FMSERVE_SANITIZED === "1") return;  // ASan's quarantine holds freed memory by design
  assert.ok(end <= start * 1.10, `resident memory ${start} KiB at the start, ${end} KiB after the run`);
});

// Opens a raw connection; resolves with the milliseconds until the server closed it.
function closedAfter(write) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: new URL(base).hostname, port: Number(new URL(base).port) }, () => write(s));
    const timer = setTimeout(() => { s.destroy(); resolve(Infinity); }, 20000);
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(timer); resolve(Date.now() - t0); });
  });
}

test("a client sending its headers or body too slowly is cut off", async () => {
  const trickle = (s, text) => {
    let i = 0;
    const timer = setInterval(() => { if (i < text.length && !s.destroyed) s.write(text[i++]); else clearInterval(timer); }, 300);
    s.on("close", () => clearInterval(timer));
  };
  const slowHeaders = closedAfter((s) => trickle(s, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Padding: " + "a".repeat(200)));
  const slowBody = closedAfter((s) => {
    s.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n`);
    trickle(s, "{\"model\":" + " ".repeat(4900));
  });
  const [headersMs, bodyMs] = await Promise.all([slowHeaders, slowBody]);
  assert.ok(headersMs >= 1500 && headersMs < 6000, `headers cut off after ${headersMs} ms (limit 2 s)`);
  assert.ok(bodyMs >= 4500 && bodyMs < 10000, `body cut off after ${bodyMs} ms (limit 5 s)`);
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

test("a client that stops reading its stream is dropped and its sequences freed", async () => {
  const dropped0 = await metric("fmserve_streams_dropped_total");
  // A client with a 4 KiB receive buffer that never reads: kernel buffering cannot hide the server's behaviour.
  const client = spawn("python3", ["-c", `
import socket, sys, time
body = sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v1/completions HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer " + sys.argv[3] + "\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body).encode())
time.sleep(30)
`, new URL(base).port, JSON.stringify({ model: "gpt://f1/qwen/latest", prompt: "Once", max_tokens: 480, n: 16, logprobs: 20, temperature: 1, seed: 100, stream: true }), key], { stdio: "ignore" });
  let dropped = dropped0, running = -1;
  try {
    for (let i = 0; i < 200 && !(dropped > dropped0 && running === 0); i++) {
      await sleep(100);
      dropped = await metric("fmserve_streams_dropped_total");
      running = await metric("fmserve_requests_running");
    }
  } finally {
    client.kill("SIGKILL");
  }
  assert.ok(dropped > dropped0, "the stream was dropped");
  assert.equal(running, 0, "its sequences were freed");
});

test("a model that takes long to load never stalls /health, /metrics or requests for loaded models", async () => {
  // A model file that is a FIFO: opening it blocks until someone writes, so its load lasts exactly as long as the
  // test wants, while a second server serves the model that is already loaded.
  const fifo = join(work, "slow.gguf");
  execFileSync("mkfifo", [fifo]);
  const config = join(work, "slow.yaml");
  writeFileSync(config, `models:
  - name: aidreams
    context: 128
    branches: {latest: ${fixtures}/models/aidreams260K.gguf}
  - name: slow
    branches: {latest: ${fifo}}
`);
  const ownData = join(work, "slow-data");  // its own store: two servers must not share one operation queue
  const ownKey = createKey(ownData, "f1");
  const slowServer = await startServer(config, ownData, 1);
  const child = slowServer.process, url = slowServer.url;
  const out = () => slowServer.log;
  try {
    const post = (model) => fetch(`${url}/v1/completions`, {
      method: "POST", headers: { Authorization: `Bearer ${ownKey}` },
      body: JSON.stringify({ model: `gpt://f1/${model}/latest`, prompt: "I dreamed", max_tokens: 4 }),
    });
    assert.equal((await post("aidreams")).status, 200);  // loaded first
    const slow = post("slow");                         // its load now blocks on the FIFO
    for (let i = 0; i < 100 && !out().includes("loading model slow"); i++) await sleep(20);
    const t0 = Date.now();
    const [health, metrics, ready, served] = await Promise.all([fetch(`${url}/health`), fetch(`${url}/metrics`), fetch(`${url}/ready`), post("aidreams")]);
    assert.equal(health.status, 200);
    assert.equal(metrics.status, 200);
    assert.equal(served.status, 200);
    const readiness = await ready.json();
    assert.equal(readiness.models.find((m) => m.model === "slow").state, "loading");
    assert.ok(Date.now() - t0 < 5000, "answered while the other model was loading");
    // End the load: a writer opens the FIFO and closes it at once, so the file is empty and the load fails.
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));  // throws at once if nobody reads
    const failed = await slow;
    assert.equal(failed.status, 503);
    const after = await (await fetch(`${url}/ready`)).json();
    assert.equal(after.ready, false);
    assert.equal(after.models.find((m) => m.model === "slow").state, "failed");
  } finally {
    child.kill("SIGKILL");
  }
});
