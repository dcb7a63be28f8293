#pragma once
// The route table: (method, path pattern) -> handler. Patterns are literal segments and `{name}` parameters,
// optionally with a `:verb` suffix (`/operations/{id}:cancel`). The matched pattern is the route's metrics label,
// so labels are a fixed set; paths that match nothing share one label. Exceptions escaping a handler become the
// route dialect's error response; only our own faults are 500s, and they never echo exception text.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "api/metrics.h"
#include "api/reply.h"

namespace fm {

using RouteParams = std::vector<std::string>;  // the `{name}` values, in pattern order
using RouteHandler = std::function<void(const HttpRequest&, const RouteParams&, const std::shared_ptr<Reply>&)>;

inline constexpr const char* kUnmatchedRoute = "unmatched";

class Router {
 public:
  explicit Router(Metrics& metrics) : metrics_(metrics) {}
  void add(const std::string& method, const std::string& pattern, Dialect dialect, RouteHandler handler);
  void dispatch(const HttpRequest& request, std::shared_ptr<Responder> responder) const;

  // The route label and dialect a path belongs to (for errors raised before dispatch, such as 413).
  std::string label_of(const std::string& path) const;
  Dialect dialect_of(const std::string& path) const;

 private:
  struct Route {
    std::string method, pattern;
    std::vector<std::string> segments;
    Dialect dialect;
    RouteHandler handler;
  };
  static bool match(const Route& route, const std::vector<std::string>& path, RouteParams* params);
  const Route* find_path(const std::vector<std::string>& segments) const;

  Metrics& metrics_;
  std::vector<Route> routes_;
};

}  // namespace fm
