// Vision through a live server with the official OpenAI client: images as base64 data: URLs in image_url parts go
// where the message puts them, and the answer is llama.cpp's (the vision fixtures' greedy continuation, for the
// tokens whose reference margin is robust); two images in one message; a text model refusing images; bad images
// answered with 400 while the server keeps serving; 8 concurrent image requests answering as serial ones; repeated
// images encoded once (the image cache's hits in /metrics).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { fixtures, createKey, startServer, stopServer, sleep } from "./live_server.mjs";

const vision = join(fixtures, "vision");
const manifest = JSON.parse(readFileSync(join(vision, "MANIFEST.json"), "utf8"));
const work = mkdtempSync(join(tmpdir(), "fmserve-vision-"));
const dataDir = join(work, "data");
let server, key, client, images, moto, motoUrl;

// Serves the fixture images over http on loopback, plus redirect chains, a 404 and an oversized body.
function startImageServer() {
  const srv = createServer((req, res) => {
    const redirect = req.url.match(/^\/redirect\/(\d+)$/);
    if (redirect) {
      const n = Number(redirect[1]);
      res.writeHead(302, { location: n > 1 ? `/redirect/${n - 1}` : "/img/tiny64" });
      return res.end();
    }
    if (req.url === "/big") {
      res.writeHead(200, { "content-type": "image/png" });
      return res.end(Buffer.alloc(3 << 20, 7));
    }
    const m = req.url.match(/^\/img\/(\w+)$/);
    if (!m || !manifest.images[m[1]]) {
      res.writeHead(404);
      return res.end("not found");
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(readFileSync(join(vision, manifest.images[m[1]].file)));
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(srv)));
}

// moto_server (S3 on loopback) with a bucket holding one fixture image.
async function startMoto() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; ++i) {
    try {
      await fetch(url);
      break;
    } catch {
      await sleep(100);
    }
  }
  assert.equal((await fetch(`${url}/pictures`, { method: "PUT" })).status, 200);
  const put = await fetch(`${url}/pictures/cats/tiny 64.jpg`, { method: "PUT", body: readFileSync(join(vision, "images/tiny64.jpg")) });
  assert.equal(put.status, 200);
  return { child, url };
}

const dataUrl = (name) => {
  const file = manifest.images[name].file;
  const mime = file.endsWith(".png") ? "image/png" : "image/jpeg";
  return `data:${mime};base64,${readFileSync(join(vision, file)).toString("base64")}`;
};

before(async () => {
  // Templates that write the messages' text only, so the prompt is exactly the fixtures' (Gemma's vocabulary adds BOS).
  writeFileSync(join(work, "bos.jinja"), "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
  writeFileSync(join(work, "plain.jinja"), "{% for m in messages %}{{ m['content'] }}{% endfor %}");
  const g = manifest.goldens.gemma3v, q = manifest.goldens.qwen25vl;
  images = await startImageServer();
  moto = await startMoto();
  const config = join(work, "config.yaml");
  writeFileSync(config, `image_fetch:
  allow_hosts: [127.0.0.1]
  max_size: 1MiB
  s3: {endpoint: "${moto.url}", region: us-east-1, access_key_id: testing, secret_access_key: testing}
models:
  - name: gemma3v
    kind: vision
    context: 512
    chat_template: ${join(work, "bos.jinja")}
    mmproj: ${join(vision, g.mmproj)}
    branches: {latest: ${join(vision, g.text_model)}}
  - name: qwenvl
    kind: vision
    context: 2048
    chat_template: ${join(work, "plain.jinja")}
    branches:
      latest: {model: ${join(vision, q.text_model)}, mmproj: ${join(vision, q.mmproj)}}
  - name: textonly
    context: 512
    chat_template: ${join(work, "bos.jinja")}
    branches: {latest: ${join(vision, g.text_model)}}
`);
  key = createKey(dataDir, "b1gfold");
  server = await startServer(config, dataDir, 2);
  client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
});

after(async () => {
  await stopServer(server.process);
  images.close();
  moto.child.kill("SIGKILL");
});

// The fixtures' prompt "Look at this picture <image> and tell me what it shows" as OpenAI content parts.
const fixtureMessages = (image) => [{
  role: "user",
  content: [
    { type: "text", text: "Look at this picture " },
    { type: "image_url", image_url: { url: dataUrl(image) } },
    { type: "text", text: " and tell me what it shows" },
  ],
}];

let compared = 0;
// How many of the reference's greedy tokens have a robust margin (2 x the logits tolerance).
function robustCount(c) {
  const robust = 2 * manifest.tolerances.suggested.logits.max_abs;
  let n = 0;
  while (n < c.greedy.length && c.greedy_margins[n] > robust) ++n;
  return n;
}

for (const [pair, model] of [["gemma3v", "gemma3v"], ["qwen25vl", "qwenvl"]]) {
  for (const image of ["sq896", "wide1280x720", "tall300x1000", "tiny64", "alpha400x300"]) {
    test(`${pair} ${image}: the answer is llama.cpp's and the image tokens are counted`, async () => {
      const c = manifest.goldens[pair].cases[image];
      const r = await client.chat.completions.create({
        model: `gpt://b1gfold/${model}/latest`, messages: fixtureMessages(image), max_tokens: 16, temperature: 0, logprobs: true,
      });
      assert.equal(r.usage.prompt_tokens, c.n_positions);
      // Token by token, as bytes (the random model writes pieces of UTF-8 characters).
      const got = r.choices[0].logprobs.content.map((t) => Buffer.from(t.bytes).toString("hex"));
      const n = robustCount(c);
      assert.deepEqual(got.slice(0, n), c.greedy_pieces_hex.slice(0, n));
      compared += n;
    });
  }
}

test("the answers above were compared over the fixtures' 38 robust tokens", () => assert.equal(compared, 38));

test("two images in one message (the documented comparison request)", async () => {
  const r = await client.chat.completions.create({
    model: "gpt://b1gfold/qwenvl/latest", max_tokens: 8, temperature: 0,
    messages: [{ role: "user", content: [
      { type: "text", text: "Compare these two pictures: " },
      { type: "image_url", image_url: { url: dataUrl("tiny64") } },
      { type: "image_url", image_url: { url: dataUrl("alpha400x300") } },
    ] }],
  });
  const text = await client.completions.create({ model: "gpt://b1gfold/qwenvl/latest", prompt: "Compare these two pictures: ", max_tokens: 1 });
  // Each image: its tokens plus <|vision_start|> and <|vision_end|>.
  const images = manifest.goldens.qwen25vl.cases.tiny64.n_image_tokens + manifest.goldens.qwen25vl.cases.alpha400x300.n_image_tokens;
  assert.equal(r.usage.prompt_tokens, text.usage.prompt_tokens + images + 4);
  assert.equal(r.choices[0].finish_reason, "length");
});

test("n = 2 choices share an image prompt's cache (M-RoPE positions included) and answer as one choice does", async () => {
  const body = { model: "gpt://b1gfold/qwenvl/latest", messages: fixtureMessages("tiny64"), max_tokens: 8, temperature: 0 };
  const one = (await client.chat.completions.create(body)).choices[0].message.content;
  const two = await client.chat.completions.create({ ...body, n: 2 });
  assert.deepEqual(two.choices.map((c) => c.message.content), [one, one]);
});

test("a text model answers image parts with 400", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "gpt://b1gfold/textonly/latest", messages: fixtureMessages("tiny64"), max_tokens: 4 }),
    (e) => e.status === 400 && /does not take images/.test(e.message));
});

test("bad images are answered with 400 and the server keeps serving", async () => {
  const png = readFileSync(join(vision, "images/tall300x1000.png"));
  const ihdr = Buffer.from("89504e470d0a1a0a0000000d49484452000186a0000186a00802000000", "hex");  // 100000 x 100000
  const cases = [
    ["data:image/png;base64,aGVsbG8gd29ybGQ=", /not an image in a supported format/],
    [`data:image/png;base64,${png.subarray(0, png.length / 2).toString("base64")}`, /corrupt or truncated/],
    [`data:image/png;base64,${ihdr.toString("base64")}`, /claims 100000x100000 pixels/],
    ["data:image/png;base64,@@@", /not valid base64/],
    ["data:text/plain;base64,aGVsbG8=", /media type 'text\/plain'/],
  ];
  for (const [url, message] of cases) {
    await assert.rejects(
      client.chat.completions.create({ model: "gpt://b1gfold/gemma3v/latest", max_tokens: 4,
        messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url } }] }] }),
      (e) => e.status === 400 && message.test(e.message), url.slice(0, 40));
  }
  const ok = await client.chat.completions.create({ model: "gpt://b1gfold/gemma3v/latest", messages: fixtureMessages("tiny64"), max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test("8 concurrent image requests answer as serial ones; repeated images are encoded once", async () => {
  const jobs = [];
  for (const image of ["sq896", "tiny64", "wide1280x720", "alpha400x300"])
    for (const model of ["gemma3v", "qwenvl"]) jobs.push({ model: `gpt://b1gfold/${model}/latest`, messages: fixtureMessages(image), max_tokens: 12, temperature: 0 });
  const serial = [];
  for (const j of jobs) serial.push((await client.chat.completions.create(j)).choices[0].message.content);
  const metrics = async () => (await (await fetch(`${server.url}/metrics`)).text());
  const hits = (text) => Number(text.match(/^fmserve_image_cache_hits_total (\d+)/m)[1]);
  const before = hits(await metrics());
  const concurrent = await Promise.all(jobs.map((j) => client.chat.completions.create(j)));
  assert.deepEqual(concurrent.map((r) => r.choices[0].message.content), serial);
  assert.equal(hits(await metrics()) - before, jobs.length);
});

test("images by http URL from an allowed loopback server and from S3 answer as the same bytes in base64", async () => {
  const ask = (url) => client.chat.completions.create({ model: "gpt://b1gfold/qwenvl/latest", max_tokens: 8, temperature: 0,
    messages: [{ role: "user", content: [{ type: "text", text: "Look at this picture " }, { type: "image_url", image_url: { url } }] }] });
  const base = `http://127.0.0.1:${images.address().port}`;
  const inline = (await ask(dataUrl("tiny64"))).choices[0].message.content;
  assert.equal((await ask(`${base}/img/tiny64`)).choices[0].message.content, inline);
  assert.equal((await ask(`${base}/redirect/3`)).choices[0].message.content, inline);
  assert.equal((await ask("s3://pictures/cats/tiny 64.jpg")).choices[0].message.content, inline);
});

test("image URLs outside the bounds are answered with 400", async () => {
  const port = images.address().port;
  const cases = [
    [`http://localhost:${port}/img/tiny64`, /internal address/],       // loopback by a name that is not allowed
    [`http://127.0.0.1:${port}/redirect/4`, /redirects more than 3 times/],
    [`http://127.0.0.1:${port}/img/nope`, /returned HTTP 404/],
    [`http://127.0.0.1:${port}/big`, /larger than the limit of 1048576 bytes/],
    ["s3://pictures/missing.jpg", /returned HTTP 404/],
    ["ftp://example.com/cat.png", /must be a data:, http\(s\):\/\/ or s3:\/\/ URL/],
  ];
  for (const [url, message] of cases) {
    await assert.rejects(
      client.chat.completions.create({ model: "gpt://b1gfold/qwenvl/latest", max_tokens: 4,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }] }),
      (e) => e.status === 400 && message.test(e.message), url);
  }
});

// Large request bodies arrive whole: 300 requests of 1–4 MB (an image plus JSON whitespace), 8 at a time, half on
// kept-alive connections and half on fresh ones; every one is answered. (60 under the sanitizers, which parse each
// megabyte an order of magnitude slower.)
const bigRequests = process.env.FMSERVE_SANITIZED === "1" ? 60 : 300;
test(`${bigRequests} requests of 1-4 MB, 8 concurrent, are all answered`, async () => {
  const { request, Agent } = await import("node:http");
  const url = new URL(`${server.url}/v1/chat/completions`);
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
  const base = JSON.stringify({ model: "gpt://b1gfold/gemma3v/latest", max_tokens: 1, temperature: 0, messages: fixtureMessages("sq896") });
  const post = (i) => new Promise((resolve, reject) => {
    const size = (1 + (i % 4)) << 20;
    const body = Buffer.concat([Buffer.from(base.slice(0, -1)), Buffer.alloc(Math.max(0, size - base.length), " "), Buffer.from("}")]);
    const req = request({
      hostname: url.hostname, port: url.port, path: url.pathname, method: "POST",
      agent: i % 2 ? keepAlive : false,
      headers: { "content-type": "application/json", "content-length": body.length, authorization: `Api-Key ${key}` },
    }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.setTimeout(120000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body);
  });
  const statuses = [];
  let next = 0;
  const worker = async () => {
    while (next < bigRequests) statuses.push(await post(next++));
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  keepAlive.destroy();
  assert.equal(statuses.length, bigRequests);
  assert.deepEqual([...new Set(statuses)], [200]);
});

// The native REST client for datasets and batch tasks (foundation-models-api.md §9, §10), as much as these tests need.
async function rest(path, body, method = body === undefined ? "GET" : "POST") {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { Authorization: `Api-Key ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith("{") ? JSON.parse(text) : null };
}

async function finished(operationId) {
  for (let i = 0; i < 1200; ++i) {
    const op = await rest(`/operations/${operationId}`);
    assert.equal(op.status, 200, op.text);
    if (op.json.done) return op.json;
    await sleep(100);
  }
  assert.fail(`operation ${operationId} did not finish within 120 s`);
}

// Creates an ImageTextToTextGenerationRequest dataset from rows, uploads and validates it; returns its id and report.
async function imageDataset(rows) {
  const created = await rest("/datasets/v1/datasets", { name: "pictures", folderId: "b1gfold", taskType: "ImageTextToTextGenerationRequest", uploadFormat: "jsonlines" });
  assert.equal(created.status, 200, created.text);
  const id = created.json.datasetId;
  const content = rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  const url = await rest(`/datasets/v1/datasets/${id}:getUploadDraftUrl`, { sizeBytes: String(Buffer.byteLength(content)) });
  assert.equal(url.status, 200, url.text);
  assert.equal((await fetch(url.json.uploadUrl, { method: "PUT", body: content })).status, 200);
  const op = await rest(`/datasets/v1/datasets/${id}:validate`, {});
  assert.equal(op.status, 200, op.text);
  return { id, report: (await finished(op.json.id)).response };
}

const imageRow = (image, question = "Look at this picture ") => ({ request: [{ role: "user", content: [
  { type: "text", text: question },
  { type: "image", image: readFileSync(join(vision, manifest.images[image].file)).toString("base64") },
  { type: "text", text: " and tell me what it shows" },
] }] });

test("an image dataset with pictures that do not decode is INVALID and names their rows", async () => {
  const png = readFileSync(join(vision, "images/tall300x1000.png"));
  const truncated = imageRow("tiny64");
  truncated.request[0].content[1].image = png.subarray(0, png.length / 2).toString("base64");
  const text = imageRow("tiny64");
  text.request[0].content[1].image = Buffer.from("hello world").toString("base64");
  const { report } = await imageDataset([imageRow("tiny64"), truncated, imageRow("alpha400x300"), text]);
  assert.equal(report.isValid, false);
  const byRow = Object.fromEntries(report.errors.flatMap((e) => e.rowNumbers.map((r) => [r, e])));
  assert.deepEqual(Object.keys(byRow).sort(), ["2", "4"]);
  assert.equal(byRow["2"].error, "undecodable_image");
  assert.match(byRow["2"].errorDescription, /image 1: the PNG image is corrupt or truncated/);
  assert.equal(byRow["4"].error, "bad_image");
  assert.match(byRow["4"].errorDescription, /none of JPEG, PNG, GIF, BMP or WebP/);
});

test("a batch task over an image dataset answers each row as the synchronous API does", async () => {
  const rows = [imageRow("tiny64"), imageRow("alpha400x300"), imageRow("tall300x1000", "Describe ")];
  const { id, report } = await imageDataset(rows);
  assert.equal(report.isValid, true, JSON.stringify(report));
  const options = { temperature: 0, maxTokens: "8" };
  const refused = await rest("/foundationModels/v1/completionBatch", { modelUri: "gpt://b1gfold/textonly/latest", completionOptions: options, sourceDatasetId: id });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.json.error.message, /does not take images/);
  const op = await rest("/foundationModels/v1/completionBatch", { modelUri: "gpt://b1gfold/gemma3v/latest", completionOptions: options, sourceDatasetId: id });
  assert.equal(op.status, 200, op.text);
  const done = await finished(op.json.id);
  assert.equal(done.response.taskStatus, "COMPLETED", JSON.stringify(done));
  const urls = await rest(`/datasets/v1/datasets/${done.response.resultDatasetId}:getDownloadUrls`);
  const results = (await (await fetch(urls.json.downloadUrls[0].url)).text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(results.length, rows.length);
  for (const [i, r] of rows.entries()) {
    assert.deepEqual(results[i].request, r.request);
    const parts = r.request[0].content.map((p) => p.type === "text" ? p : { type: "image_url", image_url: { url: `data:image/png;base64,${p.image}` } });
    const sync = await client.chat.completions.create({ model: "gpt://b1gfold/gemma3v/latest", max_tokens: 8, temperature: 0, messages: [{ role: "user", content: parts }] });
    assert.equal(results[i].response, sync.choices[0].message.content, `row ${i + 1}`);
  }
});

test("an OpenAI batch line with an image answers as chat.completions.create does", async () => {
  const body = { model: "gpt://b1gfold/qwenvl/latest", max_tokens: 8, temperature: 0, messages: fixtureMessages("tiny64") };
  const lines = [{ custom_id: "picture", method: "POST", url: "/v1/chat/completions", body }];
  const file = await client.files.create({ file: new File([lines.map((l) => JSON.stringify(l)).join("\n")], "in.jsonl"), purpose: "batch" });
  let batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
  for (let i = 0; i < 1200 && !["completed", "failed", "cancelled"].includes(batch.status); ++i) {
    await sleep(100);
    batch = await client.batches.retrieve(batch.id);
  }
  assert.equal(batch.status, "completed", JSON.stringify(batch));
  const out = JSON.parse((await (await client.files.content(batch.output_file_id)).text()).trim());
  const sync = await client.chat.completions.create(body);
  assert.equal(out.custom_id, "picture");
  assert.equal(out.response.body.choices[0].message.content, sync.choices[0].message.content);
});
