#pragma once
// An HTTP/1.1 server on Boost.Asio/Beast: keep-alive, chunked streaming responses (server-sent events), body and
// header size limits (413/431 before the body is read), idle and request timeouts, graceful stop. It knows nothing
// of the API: every request goes to one handler, on a handler thread, with a Responder that may complete it from
// any thread.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace fm {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::string path;    // target without the query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  // A spooled request (HttpServerOptions::spool_body_for): `body` is empty and the body is in this file, which the
  // handler owns (moves or removes).
  std::string body_file;
  std::string header(const std::string& lower_name) const;
};

// Completes one request. Thread-safe: the handler may keep it and finish from another thread.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void respond(int status, const std::string& content_type, std::string body,
                       const std::map<std::string, std::string>& extra_headers = {}) = 0;
  // A file as the body, with its Content-Length. The server reads it piece by piece as the client takes it, so a
  // large download is never held in memory and a slow reader is waited for (each piece within
  // request_timeout_s), not dropped. Returns false, sending nothing, when the file cannot be opened. This default
  // reads the whole file and calls respond().
  virtual bool respond_file(int status, const std::string& content_type, const std::string& path,
                            const std::map<std::string, std::string>& extra_headers = {});
  // Streaming: headers with chunked transfer encoding, then chunks, then end.
  virtual void start_stream(int status, const std::string& content_type) = 0;
  virtual bool write_chunk(std::string data) = 0;  // false once the client has gone
  virtual void end_stream() = 0;
  virtual bool client_gone() const = 0;
  // Called once if the client disconnects before the response is complete.
  virtual void on_disconnect(std::function<void()> callback) = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<Responder>)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  size_t max_body_bytes = size_t{32} << 20;
  // A different body limit for some paths (file uploads); returns 0 for max_body_bytes. max_special_body_bytes is
  // the largest limit it returns.
  std::function<size_t(const std::string& path)> body_limit_for;
  size_t max_special_body_bytes = 0;
  // Paths whose bodies are written to a file in spool_dir as they arrive (never held whole in memory).
  std::function<bool(const std::string& method, const std::string& path)> spool_body_for;
  std::string spool_dir;
  size_t max_header_bytes = 64 << 10;
  int header_timeout_s = 10;    // a new connection's first request headers (slow senders are cut off)
  int body_timeout_s = 120;     // a request's body, once its headers are in
  int idle_timeout_s = 60;      // keep-alive connection between requests (until the next request's headers)
  int request_timeout_s = 600;  // writing one response (each write restarts it)
  // Output queued for a client that does not read it; beyond this the stream is dropped (its request cancelled).
  size_t max_pending_output_bytes = size_t{4} << 20;
  int io_threads = 2;
  int handler_threads = 4;  // run request handlers (parsing, templates, tokenizing), apart from socket I/O
  // The body of errors the server raises itself (413, 431, malformed requests), in the API's dialect for `path`.
  std::function<std::string(const std::string& path, int status, const std::string& message)> error_body;
  std::function<void()> on_stream_dropped;  // called when a slow reader's stream is dropped
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  uint16_t port() const;  // the bound port (useful with port 0)
  // Serves until stop() (or SIGTERM/SIGINT when handle_signals): then stops accepting and gives in-flight
  // requests up to grace_s seconds to finish.
  void run(bool handle_signals, int grace_s = 30);
  void stop();
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fm
