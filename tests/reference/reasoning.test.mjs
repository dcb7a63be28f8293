// Reasoning through a live server, both dialects: a template that opens the <think> block in the prompt (DeepSeek-R1
// distills) makes everything the model writes before </think> reasoning: /v1 returns it as reasoning_content (whole
// and in stream deltas) with usage.completion_tokens_details.reasoning_tokens; the native API hides it
// (ENABLED_HIDDEN) and counts it in completionTokensDetails.reasoningTokens; DISABLED renders Qwen3's template with
// thinking off, so nothing is reasoning. The random-weight model never writes </think>: its whole output is reasoning.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { binary, fixtures, createKey, startServer, stopServer } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-reasoning-"));
const dataDir = join(work, "data");
let server, key, client;

before(async () => {
  const model = join(work, "tiny.gguf");
  execFileSync(binary, ["model", "synth", "--shape", "tiny-qwen3", "--type", "F16", "-o", model]);
  const config = join(work, "config.yaml");
  writeFileSync(config, `models:
  - name: r1
    context: 512
    chat_template: ${fixtures}/chat-templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja
    branches: {latest: ${model}}
  - name: q3
    context: 512
    chat_template: ${fixtures}/chat-templates/Qwen-Qwen3-0.6B.jinja
    branches: {latest: ${model}}
`);
  key = createKey(dataDir, "b1gfold");
  server = await startServer(config, dataDir, 2);
  client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1` });
});

after(() => stopServer(server.process));

const messages = [{ role: "user", content: "Why is the sky blue?" }];

test("/v1: the reasoning is reasoning_content, counted in completion_tokens_details", async () => {
  const r = await client.chat.completions.create({ model: "gpt://b1gfold/r1/latest", messages, max_tokens: 24, temperature: 1, seed: 3 });
  const m = r.choices[0].message;
  assert.equal(typeof m.reasoning_content, "string");
  assert.ok(m.reasoning_content.length > 0);
  assert.equal(m.content, "");
  assert.ok(r.usage.completion_tokens > 0);
  assert.equal(r.usage.completion_tokens_details.reasoning_tokens, r.usage.completion_tokens);
});

test("/v1 stream: deltas carry reasoning_content, the same text as the whole response", async () => {
  const body = { model: "gpt://b1gfold/r1/latest", messages, max_tokens: 24, temperature: 1, seed: 3 };
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let reasoning = "", content = "", usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      reasoning += c.delta.reasoning_content ?? "";
      content += c.delta.content ?? "";
    }
  }
  assert.equal(reasoning, whole.choices[0].message.reasoning_content);
  assert.equal(content, "");
  assert.equal(usage.completion_tokens_details.reasoning_tokens, whole.usage.completion_tokens);
});

// Greedy (temperature 0): an unseeded sample at temperature 1 could end the answer at its first token.
async function native(body) {
  const res = await fetch(`${server.url}/foundationModels/v1/completion`, {
    method: "POST", headers: { Authorization: `Api-Key ${key}` }, body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json.result;
}

test("native ENABLED_HIDDEN: the answer only, the hidden tokens counted", async () => {
  const r = await native({ modelUri: "gpt://b1gfold/r1/latest", messages: [{ role: "user", text: "Why is the sky blue?" }],
                           completionOptions: { temperature: 0, maxTokens: "20", reasoningOptions: { mode: "ENABLED_HIDDEN" } } });
  assert.equal(r.alternatives[0].message.text, "");
  assert.ok(Number(r.usage.completionTokens) > 0);
  assert.equal(r.usage.completionTokensDetails.reasoningTokens, r.usage.completionTokens);
});

test("DISABLED renders the template with thinking off: nothing is reasoning", async () => {
  const r = await native({ modelUri: "gpt://b1gfold/q3/latest", messages: [{ role: "user", text: "Why is the sky blue?" }],
                           completionOptions: { temperature: 0, maxTokens: "20", reasoningOptions: { mode: "DISABLED" } } });
  assert.equal(r.usage.completionTokensDetails.reasoningTokens, "0");
  assert.ok(r.alternatives[0].message.text.length > 0);
  const o = await client.chat.completions.create({ model: "gpt://b1gfold/q3/latest", messages, max_tokens: 8, temperature: 1 });
  assert.equal(o.choices[0].message.reasoning_content, undefined);
  assert.equal(o.usage.completion_tokens_details.reasoning_tokens, 0);
});
