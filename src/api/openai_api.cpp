#include "api/openai_api.h"

#include <openssl/rand.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

using json = nlohmann::ordered_json;

struct ApiError : std::runtime_error {
  int status;
  std::string type, code;
  int retry_after = 0;
  ApiError(int s, const std::string& message, std::string t, std::string c)
      : std::runtime_error(message), status(s), type(std::move(t)), code(std::move(c)) {}
};

ApiError bad_request(const std::string& m, const std::string& code = "invalid_value") {
  return ApiError(400, m, "invalid_request_error", code);
}

std::string error_body(const ApiError& e) {
  return json{{"error", {{"message", e.what()}, {"type", e.type}, {"code", e.code}}}}.dump();
}

std::string random_id(const char* prefix) {
  unsigned char b[12];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no secure random source");
  static const char* hex = "0123456789abcdef";
  std::string out = prefix;
  for (unsigned char c : b) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

// ---- request fields with type checks -------------------------------------------------------------------------

const json& field(const json& body, const char* name) {
  static const json null_value;
  auto it = body.find(name);
  return it == body.end() ? null_value : *it;
}
double number_field(const json& body, const char* name, double def, double lo, double hi) {
  const json& v = field(body, name);
  if (v.is_null()) return def;
  if (!v.is_number()) throw bad_request(std::string("'") + name + "' must be a number", "invalid_type");
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi))
    throw bad_request(std::string("'") + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return d;
}
int64_t int_field(const json& body, const char* name, int64_t def, int64_t lo, int64_t hi) {
  const json& v = field(body, name);
  if (v.is_null()) return def;
  if (!v.is_number_integer()) throw bad_request(std::string("'") + name + "' must be an integer", "invalid_type");
  const int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) throw bad_request(std::string("'") + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return i;
}
bool bool_field(const json& body, const char* name, bool def) {
  const json& v = field(body, name);
  if (v.is_null()) return def;
  if (!v.is_boolean()) throw bad_request(std::string("'") + name + "' must be a boolean", "invalid_type");
  return v.get<bool>();
}

// ---- stop sequences over streamed text -----------------------------------------------------------------------

// Per choice: generated text, how much of it was sent, and stop-sequence detection that never sends a prefix of
// a stop sequence before knowing it is not one.
struct ChoiceText {
  Utf8StreamDecoder decoder;
  std::string text;
  size_t sent = 0;
  bool stopped = false;

  // Appends a piece; returns the text that may be sent now. Sets stopped when a stop sequence completes.
  std::string push(const std::string& piece, const std::vector<std::string>& stops, size_t longest_stop) {
    text += decoder.push(piece);
    for (const std::string& s : stops) {
      const size_t from = sent > s.size() ? sent - s.size() : 0;
      const size_t hit = text.find(s, from);
      if (hit != std::string::npos) {
        stopped = true;
        text.resize(hit);
        break;
      }
    }
    size_t ready = text.size();
    if (!stopped && longest_stop > 1) ready = text.size() > longest_stop - 1 ? text.size() - (longest_stop - 1) : 0;
    while (ready > sent && ready < text.size() && (static_cast<unsigned char>(text[ready]) & 0xC0) == 0x80) --ready;
    if (ready <= sent) return {};
    std::string out = text.substr(sent, ready - sent);
    sent = ready;
    return out;
  }
  std::string flush() {
    if (!stopped) text += decoder.flush();
    std::string out = text.size() > sent ? text.substr(sent) : std::string();
    sent = text.size();
    return out;
  }
};

struct Auth {
  ApiKeyRecord key;
};

Auth authenticate(const HttpRequest& req, KeyStore& keys) {
  const std::string h = req.header("authorization");
  std::string scheme = h.substr(0, h.find(' '));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // RFC 7235
  std::string secret;
  if ((scheme == "bearer" || scheme == "api-key") && h.size() > scheme.size() + 1) secret = h.substr(scheme.size() + 1);
  if (secret.empty()) throw ApiError(401, "missing API key: send 'Authorization: Bearer <key>' or 'Api-Key <key>'", "invalid_request_error", "invalid_api_key");
  auto rec = keys.authenticate(secret);
  if (!rec) throw ApiError(401, "invalid, expired or revoked API key", "invalid_request_error", "invalid_api_key");
  return {*rec};
}

// Resolves the model URI against the key's folder and scopes.
ModelUri resolve_model(const json& body, const HttpRequest& req, const Auth& auth) {
  const json& m = field(body, "model");
  if (!m.is_string()) throw bad_request("'model' must be a string such as gpt://<folder>/<model>/latest", "invalid_type");
  std::string error;
  auto uri = parse_model_uri(m.get<std::string>(), &error);
  if (!uri) throw bad_request(error, "invalid_model");
  if (uri->folder.empty()) {
    uri->folder = req.header("openai-project");
    if (uri->folder.empty()) uri->folder = req.header("x-folder-id");
    if (uri->folder.empty()) uri->folder = auth.key.folder;
  }
  if (uri->folder != auth.key.folder)
    throw ApiError(403, "the API key does not belong to folder '" + uri->folder + "'", "permission_error", "folder_mismatch");
  if (!auth.key.has_scope(kScopeFoundationModels) && !auth.key.has_scope(kScopeLanguageModels))
    throw ApiError(403, "the API key lacks the scope yc.ai.languageModels.execute", "permission_error", "insufficient_scope");
  return *uri;
}

// Text of an OpenAI message content: a string, or the text parts of a parts array.
json normalize_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) throw bad_request("'messages' must be a non-empty array", "invalid_type");
  json out = json::array();
  for (const json& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw bad_request("each message needs a string 'role'", "invalid_type");
    json copy = m;
    const json& content = field(m, "content");
    if (content.is_array()) {
      std::string text;
      for (const json& part : content) {
        if (!part.is_object() || !part.contains("type")) throw bad_request("content parts need a 'type'", "invalid_type");
        if (part["type"] == "text") text += part.value("text", "");
        else throw bad_request("content part type '" + part["type"].dump() + "' is not supported by this model", "unsupported_content");
      }
      copy["content"] = text;
    } else if (!content.is_string() && !content.is_null()) {
      throw bad_request("message 'content' must be a string or an array of parts", "invalid_type");
    }
    out.push_back(copy);
  }
  return out;
}

std::vector<std::string> stop_field(const json& body) {
  const json& v = field(body, "stop");
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  else if (v.is_array()) {
    for (const json& s : v) {
      if (!s.is_string()) throw bad_request("'stop' must be a string or an array of strings", "invalid_type");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'stop' must be a string or an array of strings", "invalid_type");
  }
  if (out.size() > 4) throw bad_request("at most 4 stop sequences");
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

// Legacy /v1/completions shape: parallel arrays.
json legacy_logprobs(const std::vector<json>& entries, size_t text_start) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
  size_t offset = text_start;
  for (const json& e : entries) {
    tokens.push_back(e["token"]);
    token_logprobs.push_back(e["logprob"]);
    json alternatives = json::object();
    for (const json& t : e["top_logprobs"]) alternatives[t["token"].get<std::string>()] = t["logprob"];
    top.push_back(alternatives);
    offsets.push_back(offset);
    offset += e["token"].get<std::string>().size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

json logprob_entry(const Tokenizer& tok, const TokenEvent& e) {
  auto bytes_of = [](const std::string& s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back(c);
    return b;
  };
  const std::string piece = tok.token_to_piece(e.token);
  json top = json::array();
  for (const auto& t : e.top) {
    const std::string p = tok.token_to_piece(t.token);
    top.push_back({{"token", p}, {"logprob", t.logprob}, {"bytes", bytes_of(p)}});
  }
  return {{"token", piece}, {"logprob", e.logprob}, {"bytes", bytes_of(piece)}, {"top_logprobs", top}};
}

// Shared state of one generation request between the HTTP thread and the scheduler thread.
struct Generation {
  std::shared_ptr<LoadedModel> model;
  std::shared_ptr<Responder> res;
  bool chat = true, stream = false, include_usage = false, logprobs = false;
  std::string id, model_name;
  int64_t created = 0;
  std::vector<std::string> stops;
  size_t longest_stop = 0;
  std::vector<ChoiceText> choices;
  std::vector<json> choice_logprobs;
  std::chrono::steady_clock::time_point start, last_token;
  bool first_token_seen = false;
  Metrics* metrics = nullptr;
  // Held by the HTTP thread from submit() until the stream's header and first chunk are queued, and by the
  // scheduler's callbacks: nothing is written before the header.
  std::mutex order;

  json chunk(json choices_array) const {
    return {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
            {"model", model_name}, {"system_fingerprint", "fmserve"}, {"choices", std::move(choices_array)}};
  }
  void send_event(const json& j) { res->write_chunk("data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"); }
  json delta_choice(int index, const std::string& text, const json* logprob) const {
    json c = chat ? json{{"index", index}, {"delta", {{"content", text}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}
                  : json{{"index", index}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
    if (logprob && logprobs) c["logprobs"] = chat ? json{{"content", json::array({*logprob})}} : legacy_logprobs({*logprob}, 0);
    return c;
  }
};

}  // namespace

void OpenAiApi::handle(const HttpRequest& req, std::shared_ptr<Responder> res) {
  const std::string route = req.method + " " + req.path;
  auto reply = [&](int status, const std::string& type, std::string body, std::map<std::string, std::string> extra = {}) {
    metrics_.request(req.path, status);
    res->respond(status, type, std::move(body), extra);
  };
  try {
    if (req.path == "/health") {
      if (req.method != "GET") throw ApiError(405, "use GET", "invalid_request_error", "method_not_allowed");
      return reply(200, "application/json", json{{"status", "ok"}}.dump());
    }
    if (req.path == "/metrics") return reply(200, "text/plain; version=0.0.4", metrics_.render(models_.stats(), models_.loaded_count()));
    if (req.path == "/v1/models") {
      const Auth auth = authenticate(req, keys_);
      json data = json::array();
      for (const auto& m : models_.config().models)
        for (const auto& [branch, path] : m.branches)
          data.push_back({{"id", "gpt://" + auth.key.folder + "/" + m.name + "/" + branch}, {"object", "model"},
                          {"created", 0}, {"owned_by", auth.key.folder}});
      return reply(200, "application/json", json{{"object", "list"}, {"data", data}}.dump());
    }
    const bool chat = req.path == "/v1/chat/completions";
    if (!chat && req.path != "/v1/completions") throw ApiError(404, "no route for " + req.path, "invalid_request_error", "not_found");
    if (req.method != "POST") throw ApiError(405, "use POST", "invalid_request_error", "method_not_allowed");

    const Auth auth = authenticate(req, keys_);
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::exception&) {
      throw bad_request("request body is not valid JSON", "invalid_json");
    }
    if (!body.is_object()) throw bad_request("request body must be a JSON object", "invalid_type");
    const ModelUri uri = resolve_model(body, req, auth);
    std::shared_ptr<LoadedModel> model;
    try {
      model = models_.get(uri.name, uri.branch);
    } catch (const ModelNotFound& e) {
      throw ApiError(404, e.what(), "invalid_request_error", "model_not_found");
    } catch (const std::exception& e) {  // configured, but its file cannot be loaded now
      throw ApiError(503, std::string("model unavailable: ") + e.what(), "server_error", "model_unavailable");
    }

    // Prompt.
    std::vector<int32_t> prompt;
    if (chat) {
      ChatRequest cr;
      cr.messages = normalize_messages(field(body, "messages"));
      if (body.contains("tools") && !body["tools"].is_null()) cr.tools = body["tools"];
      cr.add_generation_prompt = true;
      std::string text;
      try {
        text = model->chat_template->render(cr);
      } catch (const std::exception& e) {
        throw bad_request(std::string("chat template: ") + e.what(), "template_error");
      }
      prompt = model->tokenizer->encode(text, false, true);
    } else {
      const json& p = field(body, "prompt");
      if (!p.is_string()) throw bad_request("'prompt' must be a string", "invalid_type");
      prompt = model->tokenizer->encode(p.get<std::string>(), true, false);
    }
    if (prompt.empty()) throw bad_request("the prompt is empty");

    auto gen = std::make_shared<GenerationRequest>();
    gen->prompt = prompt;
    gen->sampling.temperature = static_cast<float>(number_field(body, "temperature", 1.0, 0, 2));
    gen->sampling.top_p = static_cast<float>(number_field(body, "top_p", 1.0, 0, 1));
    gen->sampling.top_k = 0;
    gen->sampling.min_p = 0;
    gen->sampling.seed = static_cast<uint64_t>(int_field(body, "seed", static_cast<int64_t>(std::chrono::steady_clock::now().time_since_epoch().count() & 0x7fffffff), INT64_MIN, INT64_MAX));
    gen->presence_penalty = static_cast<float>(number_field(body, "presence_penalty", 0, -2, 2));
    gen->frequency_penalty = static_cast<float>(number_field(body, "frequency_penalty", 0, -2, 2));
    const int64_t n_ctx = model->scheduler->options().n_ctx;
    const int64_t room = n_ctx - static_cast<int64_t>(prompt.size());
    if (room < 1) throw bad_request("the prompt has " + std::to_string(prompt.size()) + " tokens; the context is " + std::to_string(n_ctx), "context_length_exceeded");
    int64_t max_tokens = int_field(body, "max_completion_tokens", -1, 1, INT32_MAX);
    if (max_tokens < 0) max_tokens = int_field(body, "max_tokens", -1, 1, INT32_MAX);
    if (max_tokens > room)
      throw bad_request("max_tokens " + std::to_string(max_tokens) + " exceeds the " + std::to_string(room) + " tokens left in the context of " + std::to_string(n_ctx), "context_length_exceeded");
    gen->max_tokens = max_tokens < 0 ? room : max_tokens;
    gen->n = static_cast<int>(int_field(body, "n", 1, 1, 16));
    const bool want_logprobs = bool_field(body, chat ? "logprobs" : "__no_logprobs", false) || (!chat && !field(body, "logprobs").is_null());
    gen->top_logprobs = want_logprobs ? static_cast<int>(int_field(body, chat ? "top_logprobs" : "logprobs", 0, 0, 20)) : -1;
    gen->stop_tokens = model->stop_tokens;
    gen->deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);  // per-request deadline

    auto g = std::make_shared<Generation>();
    g->model = model;
    g->res = res;
    g->chat = chat;
    g->stream = bool_field(body, "stream", false);
    g->include_usage = field(body, "stream_options").is_object() && field(body, "stream_options").value("include_usage", false);
    g->logprobs = want_logprobs;
    g->id = random_id(chat ? "chatcmpl-" : "cmpl-");
    g->model_name = field(body, "model").get<std::string>();
    g->created = static_cast<int64_t>(std::time(nullptr));
    g->stops = stop_field(body);
    for (const auto& s : g->stops) g->longest_stop = std::max(g->longest_stop, s.size());
    g->choices.resize(static_cast<size_t>(gen->n));
    g->choice_logprobs.assign(static_cast<size_t>(gen->n), json::array());
    g->start = g->last_token = std::chrono::steady_clock::now();
    g->metrics = &metrics_;
    const std::string path = req.path;

    gen->on_token = [g](const TokenEvent& e) {
      std::lock_guard<std::mutex> ordered(g->order);
      const auto now = std::chrono::steady_clock::now();
      if (!g->first_token_seen) {
        g->first_token_seen = true;
        g->metrics->time_to_first_token(std::chrono::duration<double>(now - g->start).count());
      } else {
        g->metrics->per_token_latency(std::chrono::duration<double>(now - g->last_token).count());
      }
      g->last_token = now;
      ChoiceText& ct = g->choices[static_cast<size_t>(e.choice)];
      const std::string ready = ct.push(g->model->tokenizer->token_to_piece(e.token), g->stops, g->longest_stop);
      json lp;
      if (g->logprobs) {
        lp = logprob_entry(*g->model->tokenizer, e);
        g->choice_logprobs[static_cast<size_t>(e.choice)].push_back(lp);
      }
      if (g->stream && (!ready.empty() || g->logprobs)) {
        g->send_event(g->chunk(json::array({g->delta_choice(e.choice, ready, g->logprobs ? &lp : nullptr)})));
      }
      return !ct.stopped && !g->res->client_gone();
    };
    gen->on_finish = [g, path](const std::vector<ChoiceResult>& results, int64_t prompt_tokens) {
      std::lock_guard<std::mutex> ordered(g->order);
      int64_t completion = 0;
      for (const auto& r : results) completion += r.completion_tokens;
      g->metrics->tokens(prompt_tokens, completion);
      const json usage = {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion}, {"total_tokens", prompt_tokens + completion}};
      auto reason_of = [&](size_t i) -> std::string {
        if (g->choices[i].stopped) return "stop";
        // OpenAI has only stop and length: a request that ran out of time ends like one that ran out of tokens.
        return results[i].reason == FinishReason::kStop || results[i].reason == FinishReason::kCancelled ? "stop" : "length";
      };
      if (g->res->client_gone()) return;
      if (results.empty() || results[0].reason == FinishReason::kError) {
        g->metrics->request(path, 500);
        if (!g->stream) {
          g->res->respond(500, "application/json", json{{"error", {{"message", "generation failed"}, {"type", "server_error"}, {"code", "internal_error"}}}}.dump());
        } else {
          g->send_event(json{{"error", {{"message", "generation failed"}, {"type", "server_error"}, {"code", "internal_error"}}}});
          g->res->write_chunk("data: [DONE]\n\n");
          g->res->end_stream();
        }
        return;
      }
      if (g->stream) {
        for (size_t i = 0; i < results.size(); ++i) {
          const std::string rest = g->choices[i].flush();
          json c = g->delta_choice(static_cast<int>(i), rest, nullptr);
          c["finish_reason"] = reason_of(i);
          if (g->chat && rest.empty()) c["delta"] = json::object();
          g->send_event(g->chunk(json::array({c})));
        }
        if (g->include_usage) {
          json u = g->chunk(json::array());
          u["usage"] = usage;
          g->send_event(u);
        }
        g->res->write_chunk("data: [DONE]\n\n");
        g->res->end_stream();
        g->metrics->request(path, 200);
        return;
      }
      json choices = json::array();
      for (size_t i = 0; i < results.size(); ++i) {
        const std::string text = (g->choices[i].flush(), g->choices[i].text);
        json lp = !g->logprobs ? json() : g->chat ? json{{"content", g->choice_logprobs[i]}} : legacy_logprobs(g->choice_logprobs[i], 0);
        if (g->chat)
          choices.push_back({{"index", i}, {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
                             {"logprobs", lp}, {"finish_reason", reason_of(i)}});
        else
          choices.push_back({{"index", i}, {"text", text}, {"logprobs", lp}, {"finish_reason", reason_of(i)}});
      }
      json out = {{"id", g->id}, {"object", g->chat ? "chat.completion" : "text_completion"}, {"created", g->created},
                  {"model", g->model_name}, {"system_fingerprint", "fmserve"}, {"choices", choices}, {"usage", usage}};
      g->metrics->request(path, 200);
      g->res->respond(200, "application/json", out.dump(-1, ' ', false, json::error_handler_t::replace));
    };
    auto cancelled = gen->cancelled;
    res->on_disconnect([cancelled] { cancelled->store(true); });

    std::unique_lock<std::mutex> ordered(g->order);
    switch (model->scheduler->submit(gen)) {
      case Scheduler::Admission::kQueued: break;
      case Scheduler::Admission::kTooLong: throw bad_request("prompt plus max_tokens exceed the context", "context_length_exceeded");
      case Scheduler::Admission::kQueueFull: {
        ApiError e(429, "the server is busy; retry later", "rate_limit_error", "queue_full");
        e.retry_after = 1;
        throw e;
      }
    }
    if (g->stream) {
      res->start_stream(200, "text/event-stream");
      json first = g->delta_choice(0, "", nullptr);
      if (chat) first["delta"] = {{"role", "assistant"}, {"content", ""}};
      json all = json::array();
      for (int i = 0; i < gen->n; ++i) {
        json c = first;
        c["index"] = i;
        all.push_back(c);
      }
      g->send_event(g->chunk(all));
    }
  } catch (const ApiError& e) {
    std::map<std::string, std::string> extra;
    if (e.retry_after > 0) extra["Retry-After"] = std::to_string(e.retry_after);
    reply(e.status, "application/json", error_body(e), extra);
  } catch (const std::exception& e) {
    reply(500, "application/json", error_body(ApiError(500, std::string("internal error: ") + e.what(), "server_error", "internal_error")));
  }
  (void)route;
}

}  // namespace fm
