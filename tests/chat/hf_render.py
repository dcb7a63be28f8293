"""Renders chat templates exactly as Hugging Face transformers does (the reference for fmserve's template engine):
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loop controls; tojson without HTML escaping;
raise_exception; strftime_now. Reads cases as JSON on stdin, prints results as JSON on stdout."""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    env = make_env()
    cases = json.load(sys.stdin)
    results = []
    compiled = {}
    for case in cases:
        source = case["template"]
        try:
            if source not in compiled:
                compiled[source] = env.from_string(source)
            text = compiled[source].render(
                messages=case["messages"], tools=case.get("tools"), documents=None,
                add_generation_prompt=case.get("add_generation_prompt", False),
                bos_token=case.get("bos_token", ""), eos_token=case.get("eos_token", ""), **case.get("kwargs", {}))
            results.append({"ok": True, "text": text})
        except Exception as e:  # the template raised: fmserve must fail too
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
