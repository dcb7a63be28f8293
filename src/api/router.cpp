#include "api/router.h"

#include <iostream>

namespace fm {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

Dialect default_dialect(const std::string& path) {
  return path == "/v1" || path.rfind("/v1/", 0) == 0 ? Dialect::kOpenAi : Dialect::kNative;
}

}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Dialect dialect, RouteHandler handler) {
  routes_.push_back({method, pattern, split_path(pattern), dialect, std::move(handler)});
}

bool Router::match(const Route& route, const std::vector<std::string>& path, RouteParams* params) {
  if (route.segments.size() != path.size()) return false;
  RouteParams values;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& want = route.segments[i];
    const std::string& got = path[i];
    if (want.empty() || want[0] != '{') {
      if (want != got) return false;
      continue;
    }
    const size_t close = want.find('}');
    const std::string suffix = want.substr(close + 1);  // ":cancel" or ""
    if (got.size() <= suffix.size() || got.compare(got.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    std::string value = got.substr(0, got.size() - suffix.size());
    if (value.find(':') != std::string::npos) return false;  // "{id}" never swallows a verb
    values.push_back(std::move(value));
  }
  if (params) *params = std::move(values);
  return true;
}

const Router::Route* Router::find_path(const std::vector<std::string>& segments) const {
  for (const Route& r : routes_)
    if (match(r, segments, nullptr)) return &r;
  return nullptr;
}

std::string Router::label_of(const std::string& path) const {
  const Route* r = find_path(split_path(path));
  return r ? r->pattern : kUnmatchedRoute;
}

Dialect Router::dialect_of(const std::string& path) const {
  const Route* r = find_path(split_path(path));
  return r ? r->dialect : default_dialect(path);
}

void Router::dispatch(const HttpRequest& request, std::shared_ptr<Responder> responder) const {
  const std::vector<std::string> segments = split_path(request.path);
  const Route* path_match = nullptr;
  RouteParams params;
  for (const Route& r : routes_) {
    if (!match(r, segments, &params)) continue;
    path_match = &r;
    if (r.method != request.method) continue;
    auto reply = std::make_shared<Reply>(responder, r.dialect, r.pattern, metrics_);
    try {
      r.handler(request, params, reply);
    } catch (const ApiError& e) {
      reply->error(e);
    } catch (const ServiceError& e) {
      reply->error(e);
    } catch (const std::exception& e) {
      std::clog << "fmserve: internal error on " << r.method << " " << r.pattern << ": " << e.what() << std::endl;
      reply->error(ApiError(ErrorCode::kInternal, "internal error", "internal_error"));
    }
    return;
  }
  if (path_match) {
    Reply reply(responder, path_match->dialect, path_match->pattern, metrics_);
    std::string allowed;
    for (const Route& r : routes_)
      if (match(r, segments, nullptr)) allowed += (allowed.empty() ? "" : ", ") + r.method;
    reply.error(ApiError(ErrorCode::kUnimplemented, "use " + allowed + " for " + path_match->pattern, "method_not_allowed", 405));
    return;
  }
  Reply reply(responder, default_dialect(request.path), kUnmatchedRoute, metrics_);
  reply.error(ApiError(ErrorCode::kNotFound, "no route for " + request.method + " " + request.path.substr(0, 200), "not_found"));
}

}  // namespace fm
