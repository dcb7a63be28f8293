// Tool calling through a live server, both dialects. A required or named call is forced by the grammar, so even a
// random-weight model writes a well-formed call in its template's syntax (Hermes <tool_call> for Qwen's template):
// it must come back as OpenAI tool_calls / native toolCallList whose arguments validate against the tool's
// parameters (ajv), streamed and not; tool results render back through the template; a template without a known
// tool-call syntax is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import Ajv2020 from "ajv/dist/2020.js";
import { binary, fixtures, createKey, startServer, stopServer } from "./live_server.mjs";

const work = mkdtempSync(join(tmpdir(), "fmserve-tools-"));
const dataDir = join(work, "data");
let server, key, client;
const ajv = new Ajv2020({ strict: false });

const tools = [
  { type: "function", function: { name: "weather", description: "Weather in a city",
    parameters: { type: "object", properties: { city: { type: "string", maxLength: 24 }, unit: { enum: ["C", "F"] } },
                  required: ["city", "unit"], additionalProperties: false } } },
  { type: "function", function: { name: "time", description: "Time in a zone",
    parameters: { type: "object", properties: { zone: { type: "string", pattern: "^[A-Z][a-z]{1,12}/[A-Z][a-z]{1,12}$" } }, required: ["zone"], additionalProperties: false } } },
];
const byName = Object.fromEntries(tools.map((t) => [t.function.name, ajv.compile(t.function.parameters)]));

before(async () => {
  const model = join(work, "tiny.gguf");
  // A real BPE vocabulary keeps the tool-laden prompts within the tiny model's 512-token context.
  execFileSync(binary, ["model", "synth", "--shape", "tiny-qwen3", "--type", "F16", "--vocab", `${fixtures}/vocab/ggml-vocab-gpt-2.gguf`, "-o", model]);
  const config = join(work, "config.yaml");
  writeFileSync(config, `models:
  - name: qwen
    context: 512
    chat_template: ${fixtures}/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja
    branches: {latest: ${model}}
  - name: gemma
    context: 512
    chat_template: ${fixtures}/chat-templates/google-gemma-2-2b-it.jinja
    branches: {latest: ${model}}
  - name: functionary
    context: 1024
    chat_template: ${fixtures}/chat-templates/meetkai-functionary-medium-v3.1.jinja
    branches: {latest: ${model}}
  - name: firefunction
    context: 1024
    chat_template: ${fixtures}/chat-templates/fireworks-ai-llama-3-firefunction-v2.jinja
    branches: {latest: ${model}}
`);
  key = createKey(dataDir, "b1gfold");
  server = await startServer(config, dataDir, 2);
  client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1` });
});

after(() => stopServer(server.process));

const messages = [{ role: "user", content: "What is the weather in Oslo?" }];

function checkCall(call, only) {
  assert.equal(call.type, "function");
  assert.match(call.id, /^call_/);
  if (only) assert.equal(call.function.name, only);
  const validate = byName[call.function.name];
  assert.ok(validate, `unknown tool ${call.function.name}`);
  const args = JSON.parse(call.function.arguments);
  assert.ok(validate(args), `${call.function.arguments}: ${JSON.stringify(validate.errors)}`);
}

test("tool_choice required: a call to one of the tools, its arguments valid, several seeds", async () => {
  let finished = 0;
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create({ model: "gpt://b1gfold/qwen/latest", messages, tools, tool_choice: "required",
                                                     temperature: 1, seed, max_tokens: 150 });
    const c = r.choices[0];
    if (c.finish_reason === "length") continue;  // cut off inside the call: nothing to check
    assert.equal(c.finish_reason, "tool_calls", JSON.stringify(c));
    assert.equal(c.message.content, null);
    assert.ok(c.message.tool_calls.length >= 1);
    for (const call of c.message.tool_calls) checkCall(call);
    ++finished;
  }
  assert.ok(finished >= 2, `${finished} of 4 calls finished within max_tokens`);
});

test("a named function is the one called; streamed, the call arrives as a tool_calls delta", async () => {
  const body = { model: "gpt://b1gfold/qwen/latest", messages, tools, tool_choice: { type: "function", function: { name: "time" } },
                 temperature: 1, seed: 5, max_tokens: 150 };
  const whole = await client.chat.completions.create(body);
  assert.equal(whole.choices[0].finish_reason, "tool_calls", JSON.stringify(whole));
  checkCall(whole.choices[0].message.tool_calls[0], "time");
  const stream = await client.chat.completions.create({ ...body, stream: true });
  const calls = [];
  let finish = null, content = "";
  for await (const chunk of stream)
    for (const c of chunk.choices) {
      for (const t of c.delta.tool_calls ?? []) calls[t.index] = t;
      content += c.delta.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
  assert.equal(finish, "tool_calls");
  assert.equal(content, "");
  assert.equal(calls.length, 1);
  checkCall(calls[0], "time");
  assert.equal(calls[0].function.arguments, whole.choices[0].message.tool_calls[0].function.arguments);
});

test("tool results render back through the template and the conversation goes on", async () => {
  const r = await client.chat.completions.create({ model: "gpt://b1gfold/qwen/latest", tools, temperature: 0, max_tokens: 8,
    messages: [...messages,
               { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: "{\"city\":\"Oslo\",\"unit\":\"C\"}" } }] },
               { role: "tool", tool_call_id: "call_1", content: "{\"temperature\": 7}" }] });
  assert.ok(["stop", "length", "tool_calls"].includes(r.choices[0].finish_reason));
  const tokens = await fetch(`${server.url}/foundationModels/v1/tokenizeCompletion`, {
    method: "POST", headers: { Authorization: `Api-Key ${key}` },
    body: JSON.stringify({ modelUri: "gpt://b1gfold/qwen/latest", tools: tools.map((t) => ({ function: t.function })),
      messages: [{ role: "user", text: "Weather?" },
                 { role: "assistant", toolCallList: { toolCalls: [{ functionCall: { name: "weather", arguments: { city: "Oslo", unit: "C" } } }] } },
                 { role: "user", toolResultList: { toolResults: [{ functionResult: { name: "weather", content: "7 degrees" } }] } }] }) });
  const json = await tokens.json();
  assert.equal(tokens.status, 200, JSON.stringify(json));
  const text = json.tokens.map((t) => t.text).join("");
  assert.match(text, /<tool_call>/);
  assert.match(text, /<tool_response>\n7 degrees\n<\/tool_response>/);
  assert.match(text, /"name": "weather"/);  // the tools are in the system prompt
});

test("native toolChoice REQUIRED: toolCallList with ALTERNATIVE_STATUS_TOOL_CALLS", async () => {
  const res = await fetch(`${server.url}/foundationModels/v1/completion`, {
    method: "POST", headers: { Authorization: `Api-Key ${key}` },
    body: JSON.stringify({ modelUri: "gpt://b1gfold/qwen/latest", completionOptions: { temperature: 1, maxTokens: "150" },
                           messages: [{ role: "user", text: "Weather in Oslo?" }], tools: tools.map((t) => ({ function: t.function })),
                           toolChoice: { functionName: "weather" } }) });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  const alt = body.result.alternatives[0];
  assert.equal(alt.status, "ALTERNATIVE_STATUS_TOOL_CALLS", JSON.stringify(alt));
  const call = alt.message.toolCallList.toolCalls[0].functionCall;
  assert.equal(call.name, "weather");
  assert.ok(byName.weather(call.arguments), JSON.stringify(call.arguments));
  assert.equal(alt.message.text, undefined);
});

test("a template without a known tool-call syntax is refused; tool_choice naming no tool too", async () => {
  await assert.rejects(client.chat.completions.create({ model: "gpt://b1gfold/gemma/latest", messages, tools, max_tokens: 4 }),
                       (e) => e.status === 400 && /tool-call syntax/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: "gpt://b1gfold/qwen/latest", messages, tools, max_tokens: 4,
                                                        tool_choice: { type: "function", function: { name: "nope" } } }),
                       (e) => e.status === 400 && /not among the tools/.test(e.message));
  // tool_choice none: the tools are neither offered nor parsed.
  const r = await client.chat.completions.create({ model: "gpt://b1gfold/qwen/latest", messages, tools, tool_choice: "none", max_tokens: 4 });
  assert.equal(r.choices[0].message.tool_calls, undefined);
});

test("functionary v3.1 and firefunction v2 templates: forced calls in their syntax, parsed back into valid tool_calls", async () => {
  // One tool: these templates' system prompts are long.
  const weather = tools.filter((t) => t.function.name === "weather");
  for (const [model, choice] of [["functionary", { type: "function", function: { name: "weather" } }], ["firefunction", "required"]]) {
    let finished = 0;
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({ model: `gpt://b1gfold/${model}/latest`, messages, tools: weather, tool_choice: choice,
                                                       temperature: 1, seed, max_tokens: 150 });
      const c = r.choices[0];
      if (c.finish_reason === "length") continue;  // cut off inside the call: nothing to check
      assert.equal(c.finish_reason, "tool_calls", `${model}: ${JSON.stringify(c)}`);
      for (const call of c.message.tool_calls) checkCall(call, "weather");
      ++finished;
    }
    assert.ok(finished >= 2, `${model}: ${finished} of 3 calls finished within max_tokens`);
  }
  // Functionary writes the name outside the arguments: "required" among several tools cannot be enforced.
  await assert.rejects(client.chat.completions.create({ model: "gpt://b1gfold/functionary/latest", messages, tools, tool_choice: "required", max_tokens: 8 }),
                       (e) => e.status === 400 && /name the tool/.test(e.message));
});
