// fmserve's CLIP BPE tokenizer (Stable Diffusion's text encoders) against clip-bpe-js, a port of OpenAI's
// simple_tokenizer.py, on a generated corpus; and `fmserve imagine -p` against the image-generation fixture's tokens.
// The port maps UTF-16 units rather than UTF-8 bytes and unescapes HTML entities, so the corpus is ASCII without '&'.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import ClipTokenizer from "clip-bpe-js";
import { corpus } from "./corpus.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const binary = process.env.FMSERVE_BINARY ?? join(here, "../../build/bin/fmserve");
const fixtures = process.env.FMSERVE_FIXTURES_DIR ?? join(here, "../../../shared/fixtures");
const work = mkdtempSync(join(tmpdir(), "fmserve-clip-"));
const reference = new ClipTokenizer();

// The diffusers layout: tokenizer/vocab.json + tokenizer/merges.txt, written from the reference's tables.
const tokenizerDir = join(work, "tokenizer");
mkdirSync(tokenizerDir);
writeFileSync(join(tokenizerDir, "vocab.json"), JSON.stringify(reference.encoder));
const merges = Object.entries(reference.bpeRanks).sort((a, b) => a[1] - b[1]).map(([k]) => k.split("·😎·").join(" "));
writeFileSync(join(tokenizerDir, "merges.txt"), "#version: 0.2\n" + merges.join("\n") + "\n");

function fmserveIds(texts) {
  const input = join(work, "input.jsonl");
  writeFileSync(input, texts.map((t) => JSON.stringify(t)).join("\n") + "\n");
  const out = execFileSync(binary, ["tokenize", "-m", tokenizerDir, "--jsonl", input],
                           { maxBuffer: 1 << 28, encoding: "utf8", timeout: 300000 });
  return out.trimEnd().split("\n").map((line) => JSON.parse(line));
}

const prompts = [
  "a red fox sitting in the snow", "A photo of an astronaut riding a horse on Mars, 4k, highly detailed",
  "portrait of a cat, oil painting by Rembrandt", "  lots   of\twhitespace\n\nhere  ", "UPPER case WORDS",
  "it's the dog's toy, isn't it? we'll see; they'd know", "numbers 1234 and 3.14159 and 1e10",
  "punctuation!!! ... ??? --- (parens) [brackets] {braces} <angles>", "<|startoftext|>special<|endoftext|>",
  "", "a", "snake_case and camelCase and kebab-case", "emoji-free ascii ~`@#$%^*+=|\\/",
];
const texts = [...prompts, ...corpus(12000, 11)].filter((t) => /^[\x09\x0a\x0d\x20-\x7e]*$/.test(t) && !t.includes("&"));

test(`CLIP ids equal the reference on ${texts.length} ASCII strings`, () => {
  assert.ok(texts.length >= 2000, `only ${texts.length} ASCII strings in the corpus`);
  const ours = fmserveIds(texts);
  const mismatches = [];
  texts.forEach((text, i) => {
    const want = reference.encode(text);
    if (JSON.stringify(want) !== JSON.stringify(ours[i])) mismatches.push({ text, want, got: ours[i] });
  });
  assert.equal(mismatches.length, 0, JSON.stringify(mismatches.slice(0, 3)));
});

test("imagine -p tokenizes the fixture's prompt into the fixture's 77 ids", () => {
  const checkpoint = join(work, "tiny_sd1.safetensors");
  execFileSync(binary, ["model", "synth", "--shape", "sd1-fixture", "-o", checkpoint], { timeout: 300000 });
  const dump = join(work, "dump");
  execFileSync(binary, ["imagine", "-m", checkpoint, "-p", "a red fox sitting in the snow", "--tokenizer", tokenizerDir,
                        "--seed", "42", "--steps", "1", "-W", "64", "-H", "64", "--cfg", "1", "-o", join(work, "fox.png"),
                        "--dump", dump, "--progress", "none"], { timeout: 300000 });
  const want = readFileSync(join(fixtures, "imagegen/fox_64x64_s42/tokens.txt"), "utf8").trim().split(/\s+/).map(Number);
  const got = readFileSync(join(dump, "tokens.txt"), "utf8").trim().split(/\s+/).map(Number);
  assert.deepEqual(got, want);
  rmSync(checkpoint);
});
