// libjq behind the workflow templates. Programs run in helper processes (jq_worker.h) with a time limit, because
// libjq cannot be interrupted; this process only compiles them, to check documents. libjq 1.6 is not known to be
// safe to enter from several threads at once, so every use of it holds one lock.
#include "workflow/jq_template.h"
#include "workflow/jq_worker.h"

#include <cctype>
#include <mutex>
#include <unordered_map>

extern "C" {
#include <jq.h>
#include <jv.h>
}

namespace fm::workflow {
namespace {

std::mutex& jq_lock() {
  static std::mutex m;
  return m;
}

// jv <-> JSON through their text forms: exact, and free of the two libraries' internals.
jv to_jv(const json& value) {
  const std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return jv_parse_sized(text.data(), static_cast<int>(text.size()));
}

json from_jv(jv value) {
  jv text = jv_dump_string(value, 0);  // consumes value
  json out = json::parse(jv_string_value(text), nullptr, false);
  jv_free(text);
  if (out.is_discarded()) throw TemplateError("the program produced a value that is not JSON (NaN or infinity)");
  return out;
}

void collect_error(void* data, jv message) {
  auto* out = static_cast<std::string*>(data);
  if (jv_get_kind(message) == JV_KIND_STRING) {
    if (!out->empty()) *out += "; ";
    *out += jv_string_value(message);
  }
  jv_free(message);
}

// Index just past the string literal starting at s[i] == '"' (interpolations inside it skipped whole), or npos.
size_t skip_string(const std::string& s, size_t i);

// Index of the ')' closing the '(' at s[open], or npos.
size_t match_paren(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      i = skip_string(s, i);
      if (i == std::string::npos) return i;
      --i;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) return i;
    } else if (c == '#') {  // a jq comment runs to the end of the line
      while (i < s.size() && s[i] != '\n') ++i;
    }
  }
  return std::string::npos;
}

size_t skip_string(const std::string& s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') return i + 1;
    if (s[i] != '\\') continue;
    if (i + 1 < s.size() && s[i + 1] == '(') {
      const size_t close = match_paren(s, i + 1);
      if (close == std::string::npos) return close;
      i = close;
    } else {
      ++i;
    }
  }
  return std::string::npos;
}

struct Piece {
  bool program = false;
  std::string text;
};

// Splits a template into literal text and programs; throws TemplateError on an unbalanced `\(`.
std::vector<Piece> split_template(const std::string& text) {
  std::vector<Piece> pieces;
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '(') {
      const size_t close = match_paren(text, i + 1);
      if (close == std::string::npos)
        throw TemplateError("unbalanced '\\(' at offset " + std::to_string(i) + " in template '" + text + "'");
      if (!literal.empty()) pieces.push_back({false, std::move(literal)});
      literal.clear();
      pieces.push_back({true, text.substr(i + 2, close - i - 2)});
      i = close;
    } else {
      literal += text[i];
    }
  }
  if (!literal.empty()) pieces.push_back({false, std::move(literal)});
  return pieces;
}

bool is_blank(const std::string& s) {
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string& compile_errors() {
  static std::string errors;
  return errors;
}

// Compiled programs, reused for every evaluation (compiling means compiling jq's builtins too: milliseconds).
// `$global` and `$counter` arrive with the input, so one compiled program serves every value of them. Caller holds
// jq_lock().
jq_state* compiled(const std::string& program) {
  // Never destroyed: the states stay reachable (and valid) until the process ends, whatever exits first.
  static auto& cache = *new std::unordered_map<std::string, jq_state*>();
  auto it = cache.find(program);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 1024) {
    for (auto& entry : cache) jq_teardown(&entry.second);
    cache.clear();
  }
  // libjq takes C strings: a NUL would cut the program short (and jq 1.6 leaks on the unterminated text it leaves).
  if (program.find('\0') != std::string::npos) throw TemplateError("jq program contains a NUL character");
  jq_state* jq = jq_init();
  if (!jq) throw TemplateError("jq could not start");
  compile_errors().clear();
  jq_set_error_cb(jq, collect_error, &compile_errors());
  const std::string wrapped = ".[1] as $global | .[2] as $counter | .[0] | (" + jq17_compat(program) + "\n)";
  if (!jq_compile(jq, wrapped.c_str())) {
    const std::string errors = compile_errors();
    jq_teardown(&jq);
    throw TemplateError("jq program '" + program + "' does not compile: " + (errors.empty() ? "syntax error" : errors));
  }
  cache.emplace(program, jq);
  return jq;
}

}  // namespace

std::string jq17_compat(const std::string& program) {
  std::string out;
  out.reserve(program.size());
  for (size_t i = 0; i < program.size(); ++i) {
    const char c = program[i];
    if (c == '"') {
      size_t end = skip_string(program, i);
      if (end == std::string::npos) end = program.size();
      out.append(program, i, end - i);
      i = end - 1;
      continue;
    }
    // `X.[` where X ends a term (a name, `]`, `)`, `"`): jq 1.7's `.a.[0]`, which 1.6 writes `.a[0]`.
    if (c == '.' && i + 1 < program.size() && program[i + 1] == '[' && !out.empty()) {
      const char prev = out.back();
      if (std::isalnum(static_cast<unsigned char>(prev)) || prev == '_' || prev == ']' || prev == ')' || prev == '"') continue;
    }
    out += c;
  }
  return out;
}

// Runs in the jq helper process (workflow/jq_worker.h).
json evaluate_here(const std::string& program, const json& packed) {
  std::lock_guard<std::mutex> lock(jq_lock());
  try {
    jq_state* jq = compiled(program);
    jq_start(jq, to_jv(packed), 0);
    jv result = jq_next(jq);
    if (jv_is_valid(result)) return {{"v", from_jv(result)}};
    if (!jv_invalid_has_msg(jv_copy(result))) {
      jv_free(result);
      return {{"v", nullptr}};  // no output
    }
    jv msg = jv_invalid_get_msg(result);
    std::string text;
    if (jv_get_kind(msg) == JV_KIND_STRING) {
      text = jv_string_value(msg);
      jv_free(msg);
    } else {
      jv dumped = jv_dump_string(msg, 0);
      text = jv_string_value(dumped);
      jv_free(dumped);
    }
    return {{"e", "jq program '" + program + "' failed: " + text}};
  } catch (const TemplateError& e) {
    return {{"e", e.what()}};
  }
}

json jq_eval(const std::string& program, const json& input, const TemplateVars& vars) {
  const json packed = json::array({input, vars.value("global", json()), vars.value("counter", json())});
  json answer;
  try {
    answer = evaluate_in_helper(program, packed);
  } catch (const std::runtime_error& e) {
    throw TemplateError(e.what());
  }
  if (answer.contains("e")) throw TemplateError(answer["e"].is_string() ? answer["e"].get<std::string>() : "jq failed");
  return answer.value("v", json());
}

bool is_template(const std::string& text) { return text.find("\\(") != std::string::npos; }

json render(const json& value, const json& input, const TemplateVars& vars) {
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = render(it.value(), input, vars);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& v : value) out.push_back(render(v, input, vars));
    return out;
  }
  if (!value.is_string() || !is_template(value.get_ref<const std::string&>())) return value;
  const std::vector<Piece> pieces = split_template(value.get_ref<const std::string&>());
  size_t programs = 0;
  bool blank_text = true;
  for (const Piece& p : pieces) {
    if (p.program) ++programs;
    else if (!is_blank(p.text)) blank_text = false;
  }
  if (programs == 1 && blank_text)
    for (const Piece& p : pieces)
      if (p.program) return jq_eval(p.text, input, vars);
  std::string out;
  for (const Piece& p : pieces) {
    if (!p.program) {
      out += p.text;
      continue;
    }
    const json v = jq_eval(p.text, input, vars);
    out += v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return out;
}

std::string check_template(const std::string& text, bool compile) {
  try {
    for (const Piece& p : split_template(text)) {
      if (!p.program || !compile) continue;
      std::lock_guard<std::mutex> lock(jq_lock());
      compiled(p.text);
    }
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "";
}

}  // namespace fm::workflow
