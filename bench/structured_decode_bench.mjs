// Decoding speed with and without a JSON schema, side by side: one stream at a time through a live server, the
// same prompt and max_tokens, plain and schema-constrained requests alternating, so both see the same machine.
// Prints generated tokens/s of each and their ratio as JSON.
// Usage: node bench/structured_decode_bench.mjs MODEL.gguf [ROUNDS=6] [MAX_TOKENS=128] [THREADS=2]
//   (a model with a real vocabulary: fmserve model synth --shape qwen2.5-0.5b --type Q4_K_M --vocab VOCAB.gguf)
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, createKey, startServer, stopServer } from "../tests/reference/live_server.mjs";

const [model, rounds = "6", maxTokens = "128", threads = "2"] = process.argv.slice(2);
if (!model) throw new Error("usage: structured_decode_bench.mjs MODEL.gguf [ROUNDS] [MAX_TOKENS] [THREADS]");
const work = mkdtempSync(join(tmpdir(), "structured-bench-"));
const config = join(work, "config.yaml");
writeFileSync(config, `models:\n  - name: m\n    context: 2048\n    branches: {latest: ${model}}\n`);
const key = createKey(join(work, "data"), "f");
const server = await startServer(config, join(work, "data"), Number(threads));
const schema = {
  type: "object",
  properties: {
    items: { type: "array", items: { type: "object", properties: { name: { type: "string", maxLength: 40 }, note: { type: "string" },
             count: { type: "integer", minimum: 0 }, tags: { type: "array", items: { enum: ["red", "green", "blue"] } } },
             required: ["name", "note", "count"] } },
    summary: { type: "string" },
  },
  required: ["items", "summary"],
};
async function run(withSchema, seed) {
  const body = { model: "gpt://f/m/latest", messages: [{ role: "user", content: "List the items in the warehouse as JSON." }],
                 temperature: 1, seed, max_tokens: Number(maxTokens) };
  if (withSchema) body.response_format = { type: "json_schema", json_schema: { name: "inventory", schema } };
  const t0 = performance.now();
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(JSON.stringify(json));
  return { tokens: json.usage.completion_tokens, seconds: (performance.now() - t0) / 1000 };
}
const totals = { plain: { tokens: 0, seconds: 0 }, schema: { tokens: 0, seconds: 0 } };
await run(false, 0);  // warm up (load the model, build the vocabulary trie)
await run(true, 0);
for (let i = 1; i <= Number(rounds); ++i)
  for (const kind of i % 2 ? ["plain", "schema"] : ["schema", "plain"]) {
    const r = await run(kind === "schema", i);
    totals[kind].tokens += r.tokens;
    totals[kind].seconds += r.seconds;
  }
await stopServer(server.process);
const tps = (t) => t.tokens / t.seconds;
console.log(JSON.stringify({ model, rounds: Number(rounds), max_tokens: Number(maxTokens), threads: Number(threads),
  plain_tokens_per_s: tps(totals.plain), schema_tokens_per_s: tps(totals.schema), plain_tokens: totals.plain.tokens,
  schema_tokens: totals.schema.tokens, schema_over_plain: tps(totals.schema) / tps(totals.plain) }));
