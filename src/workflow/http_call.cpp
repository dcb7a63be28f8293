#include "workflow/http_call.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "service/image_fetch.h"

namespace fm::workflow {
namespace {

struct Exchange {
  std::string body;
  size_t limit = 0;
  bool over_limit = false;
  CURL* curl = nullptr;
  const ImageFetchConfig* config = nullptr;
  std::string refused_ip;
  const CallContext* ctx = nullptr;
};

size_t take_body(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  if (x->body.size() + size * n > x->limit) {
    x->over_limit = true;
    return 0;
  }
  x->body.append(data, size * n);
  return size * n;
}

std::string url_host(const char* url) {
  std::string host;
  CURLU* u = curl_url();
  char* h = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
    host = h;
    curl_free(h);
  }
  curl_url_cleanup(u);
  return host;
}

// Each request (and each redirect) is checked once its address is known.
int check_address(void* user, char* ip, char*, int, int) {
  auto* x = static_cast<Exchange*>(user);
  if (!is_internal_address(ip)) return CURL_PREREQFUNC_OK;
  char* current = nullptr;
  curl_easy_getinfo(x->curl, CURLINFO_EFFECTIVE_URL, &current);
  const auto& allowed = x->config->allow_hosts;
  if (current && std::find(allowed.begin(), allowed.end(), url_host(current)) != allowed.end()) return CURL_PREREQFUNC_OK;
  x->refused_ip = ip;
  return CURL_PREREQFUNC_ABORT;
}

// Abandons the transfer when the execution is terminated.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* x = static_cast<Exchange*>(user);
  return x->ctx->terminated && x->ctx->terminated->load() ? 1 : 0;
}

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

json http_call(const json& call, const CallContext& ctx, const ImageFetchConfig& config) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (!call.contains("url") || !call["url"].is_string()) throw StepFailure("STEP_INVALID_ARGUMENT", "httpCall.url must be a string");
  std::string url = call["url"].get<std::string>();
  const std::string method = call.value("method", std::string("GET"));
  std::unique_ptr<CURL, void (*)(CURL*)> handle(curl_easy_init(), curl_easy_cleanup);
  if (!handle) throw StepFailure("STEP_INTERNAL", "cannot start an HTTP request");
  CURL* c = handle.get();
  if (call.contains("query") && call["query"].is_object() && !call["query"].empty()) {
    std::string q;
    for (auto it = call["query"].begin(); it != call["query"].end(); ++it) {
      char* k = curl_easy_escape(c, it.key().c_str(), static_cast<int>(it.key().size()));
      const std::string value = as_text(it.value());
      char* v = curl_easy_escape(c, value.c_str(), static_cast<int>(value.size()));
      q += (q.empty() ? "" : "&") + std::string(k) + "=" + v;
      curl_free(k);
      curl_free(v);
    }
    url += (url.find('?') == std::string::npos ? "?" : "&") + q;
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, curl_slist_free_all);
  const auto add_header = [&](const std::string& line) { headers.reset(curl_slist_append(headers.release(), line.c_str())); };
  bool has_content_type = false;
  if (call.contains("headers") && call["headers"].is_object())
    for (auto it = call["headers"].begin(); it != call["headers"].end(); ++it) {
      std::string name = it.key(), lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
      has_content_type = has_content_type || lower == "content-type";
      const std::string value = as_text(it.value());
      if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
        throw StepFailure("STEP_INVALID_ARGUMENT", "httpCall.headers." + name + " is not a valid header");
      add_header(name + ": " + value);
    }
  std::string body;
  if (call.contains("body") && !call["body"].is_null()) {
    body = as_text(call["body"]);
    if (!call["body"].is_string() && !has_content_type) add_header("Content-Type: application/json");
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - std::chrono::steady_clock::now()).count();
  if (left <= 0) throw StepFailure("STEP_TIMEOUT", "the step's timeout passed before the request started");
  Exchange x;
  x.limit = config.max_bytes;
  x.curl = c;
  x.config = &config;
  x.ctx = &ctx;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(config.max_redirects));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config.connect_timeout_s));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::min<int64_t>(left, config.timeout_s * 1000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, check_address);
  curl_easy_setopt(c, CURLOPT_PREREQDATA, &x);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "fmserve-workflows");
  const CURLcode rc = curl_easy_perform(c);
  if (!x.refused_ip.empty())
    throw StepFailure("STEP_INVALID_ARGUMENT", "httpCall.url resolves to the internal address " + x.refused_ip + ", which workflows may not reach");
  if (rc == CURLE_ABORTED_BY_CALLBACK) throw StepFailure("STEP_INTERNAL", "the execution was terminated during the request");
  if (x.over_limit) throw StepFailure("STEP_INTERNAL", "the response is larger than " + std::to_string(config.max_bytes) + " bytes");
  if (rc == CURLE_OPERATION_TIMEDOUT) throw StepFailure("STEP_TIMEOUT", "the request did not finish in time");
  if (rc != CURLE_OK) throw StepFailure("STEP_INTERNAL", std::string("the request failed: ") + curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) throw StepFailure("HTTP_CALL_" + std::to_string(status), "HTTP " + std::to_string(status) + ": " + x.body.substr(0, 500));
  json parsed = json::parse(x.body, nullptr, false);
  if (!parsed.is_discarded()) return parsed;
  return x.body;
}

}  // namespace fm::workflow
