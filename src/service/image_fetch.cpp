#include "service/image_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "service/service_error.h"
#include "util/base64.h"

namespace fm {
namespace {

ServiceError bad_image(const std::string& message) { return invalid_argument(message, "invalid_image"); }

std::string data_url_bytes(const std::string& url) {
  const size_t comma = url.find(',');
  if (comma == std::string::npos) throw bad_image("the image data: URL has no ',' before its data");
  const std::string meta = url.substr(5, comma - 5);
  if (!meta.empty() && meta.rfind("image/", 0) != 0 && meta.rfind("application/octet-stream", 0) != 0)
    throw bad_image("the image data: URL has media type '" + meta.substr(0, meta.find(';')) + "', not image/…");
  if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
    throw bad_image("the image data: URL must be base64 (data:image/…;base64,…)");
  auto bytes = base64_decode(std::string_view(url).substr(comma + 1));
  if (!bytes) throw bad_image("the image data: URL is not valid base64");
  return std::move(*bytes);
}

std::string env_or(const std::string& configured, std::initializer_list<const char*> names, const char* fallback = "") {
  if (!configured.empty()) return configured;
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return v;
  return fallback;
}

struct Transfer {
  std::string body;
  size_t max_bytes = 0;
  bool too_large = false;
  const ImageFetchConfig* config = nullptr;
  CURL* curl = nullptr;
  bool check_addresses = true;  // false for the operator's S3 endpoint
  std::string refused;  // the address refused, when the pre-request check stopped the transfer
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->body.size() + size * n > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, size * n);
  return size * n;
}

std::string host_of(const std::string& url);

// Runs before each request is sent (the first and every redirect), once the address is known: an internal address
// is refused unless the URL's host is in allow_hosts.
int before_request(void* user, char* primary_ip, char* /*local_ip*/, int /*primary_port*/, int /*local_port*/) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->check_addresses || !is_internal_address(primary_ip)) return CURL_PREREQFUNC_OK;
  char* effective = nullptr;
  curl_easy_getinfo(t->curl, CURLINFO_EFFECTIVE_URL, &effective);
  const auto& allowed = t->config->allow_hosts;
  if (effective && std::find(allowed.begin(), allowed.end(), host_of(effective)) != allowed.end()) return CURL_PREREQFUNC_OK;
  t->refused = primary_ip;
  return CURL_PREREQFUNC_ABORT;
}

std::string host_of(const std::string& url) {
  CURLU* u = curl_url();
  std::string host;
  char* h = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
    host = h;
    curl_free(h);
  }
  curl_url_cleanup(u);
  return host;
}

std::string fetch(const std::string& url, const ImageFetchConfig& config, bool is_s3, const std::string& what) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw ServiceError(ErrorCode::kInternal, "cannot start an image download", "internal");
  Transfer t;
  t.max_bytes = config.max_bytes;
  t.config = &config;
  t.check_addresses = !is_s3;  // the S3 endpoint is the operator's own
  CURL* c = curl.get();
  t.curl = c;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, is_s3 ? 0L : 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(config.max_redirects));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config.connect_timeout_s));
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(config.timeout_s));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(config.max_bytes));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, before_request);
  curl_easy_setopt(c, CURLOPT_PREREQDATA, &t);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "fmserve");
  std::string credentials, sigv4;
  if (is_s3) {
    const std::string key = env_or(config.s3_access_key_id, {"AWS_ACCESS_KEY_ID"});
    const std::string secret = env_or(config.s3_secret_access_key, {"AWS_SECRET_ACCESS_KEY"});
    if (!key.empty()) {
      sigv4 = "aws:amz:" + env_or(config.s3_region, {"AWS_REGION", "AWS_DEFAULT_REGION"}, "us-east-1") + ":s3";
      credentials = key + ":" + secret;
      curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
      curl_easy_setopt(c, CURLOPT_USERPWD, credentials.c_str());
    }
  }
  const CURLcode rc = curl_easy_perform(c);
  if (!t.refused.empty())
    throw bad_image(what + " resolves to the internal address " + t.refused + ", which image URLs may not reach");
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    throw bad_image(what + " is larger than the limit of " + std::to_string(config.max_bytes) + " bytes");
  if (rc == CURLE_TOO_MANY_REDIRECTS)
    throw bad_image(what + " redirects more than " + std::to_string(config.max_redirects) + " times");
  if (rc == CURLE_OPERATION_TIMEDOUT) throw bad_image(what + " did not arrive within the time limit");
  if (rc != CURLE_OK) throw bad_image("cannot fetch " + what + ": " + curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) throw bad_image("fetching " + what + " returned HTTP " + std::to_string(status));
  if (status >= 300) throw bad_image(what + " redirects more than " + std::to_string(config.max_redirects) + " times");
  return std::move(t.body);
}

}  // namespace

bool is_internal_address(const std::string& ip) {
  unsigned char a[16];
  if (inet_pton(AF_INET, ip.c_str(), a) == 1) {
    return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 169 && a[1] == 254) || (a[0] == 100 && (a[1] & 0xC0) == 64);
  }
  if (inet_pton(AF_INET6, ip.c_str(), a) == 1) {
    static const unsigned char loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, any[16] = {};
    if (std::memcmp(a, loopback, 16) == 0 || std::memcmp(a, any, 16) == 0) return true;
    if ((a[0] & 0xFE) == 0xFC || (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)) return true;  // fc00::/7, fe80::/10
    const bool v4_mapped = std::all_of(a, a + 10, [](unsigned char b) { return b == 0; }) && a[10] == 0xFF && a[11] == 0xFF;
    if (v4_mapped) {
      char v4[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, a + 12, v4, sizeof v4);
      return is_internal_address(v4);
    }
    return false;
  }
  return true;  // not an address we can judge: refuse
}

std::string image_bytes_from_url(const std::string& url, const ImageFetchConfig& config) {
  std::string bytes;
  if (url.rfind("data:", 0) == 0) {
    bytes = data_url_bytes(url);
  } else if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    bytes = fetch(url, config, false, "the image at " + url);
  } else if (url.rfind("s3://", 0) == 0) {
    const std::string endpoint = env_or(config.s3_endpoint, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
    if (endpoint.empty())
      throw ServiceError(ErrorCode::kInvalidArgument, "s3:// image URLs need image_fetch.s3.endpoint in the configuration",
                         "unsupported_feature");
    const std::string path = url.substr(5);
    if (path.find('/') == std::string::npos || path.front() == '/' || path.back() == '/')
      throw bad_image("an s3:// image URL must be s3://bucket/key");
    std::string target = endpoint;
    while (!target.empty() && target.back() == '/') target.pop_back();
    for (size_t from = 0; from <= path.size();) {  // path-style: endpoint/bucket/key, each segment escaped
      const size_t slash = std::min(path.find('/', from), path.size());
      char* seg = curl_easy_escape(nullptr, path.data() + from, static_cast<int>(slash - from));
      target += "/";
      target += seg;
      curl_free(seg);
      from = slash + 1;
    }
    bytes = fetch(target, config, true, "the object " + url);
  } else {
    throw bad_image("the image URL must be a data:, http(s):// or s3:// URL");
  }
  if (bytes.empty()) throw bad_image("the image is empty");
  return bytes;
}

}  // namespace fm
