#include "api/http_server.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <optional>
#include <utility>  // Boost 1.74 asio uses std::exchange without including it

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

namespace fm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool Responder::respond_file(int status, const std::string& content_type, const std::string& path,
                             const std::map<std::string, std::string>& extra_headers) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::string body;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) body.append(buffer, n);
  std::fclose(f);
  respond(status, content_type, std::move(body), extra_headers);
  return true;
}

std::string HttpRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Session;

// The Responder of one request on a session. Calls from other threads are posted to the session's strand.
class SessionResponder final : public Responder {
 public:
  explicit SessionResponder(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  void respond(int status, const std::string& content_type, std::string body,
               const std::map<std::string, std::string>& extra_headers) override;
  bool respond_file(int status, const std::string& content_type, const std::string& path,
                    const std::map<std::string, std::string>& extra_headers) override;
  void start_stream(int status, const std::string& content_type) override;
  bool write_chunk(std::string data) override;
  void end_stream() override;
  bool client_gone() const override { return gone_->load(); }
  void on_disconnect(std::function<void()> callback) override;

  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex mutex_;
  std::function<void()> disconnect_callback_;
  bool completed_ = false;
  bool answered_ = false;  // respond() or start_stream() was called: a second one is ignored

 private:
  std::shared_ptr<Session> session_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& opt, const HttpHandler& handler, std::atomic<size_t>& open,
          asio::thread_pool& handlers)
      : stream_(std::move(socket)), opt_(opt), handler_(handler), open_(open), handlers_(handlers) {
    ++open_;
  }
  ~Session() {
    if (spool_) std::fclose(spool_);
    if (!spool_path_.empty()) std::remove(spool_path_.c_str());  // a body whose request never reached a handler
    --open_;
  }

  void start() { asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); }); }

  // ---- called on the strand ----
  void write_full(int status, std::string content_type, std::string body, std::map<std::string, std::string> extra) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), version_);
    res->set(http::field::server, "fmserve");
    res->set(http::field::content_type, content_type);
    for (const auto& [k, v] : extra) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(opt_.request_timeout_s));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      self->after_response(ec);
    });
  }

  void write_file(int status, std::string content_type, std::shared_ptr<http::file_body::value_type> file,
                  std::map<std::string, std::string> extra) {
    auto res = std::make_shared<http::response<http::file_body>>(std::piecewise_construct, std::make_tuple(std::move(*file)),
                                                                 std::make_tuple(static_cast<http::status>(status), version_));
    res->set(http::field::server, "fmserve");
    res->set(http::field::content_type, content_type);
    for (const auto& [k, v] : extra) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    write_file_piece(res, std::make_shared<http::response_serializer<http::file_body>>(*res));
  }

  // One piece of a file response at a time, each with its own deadline: the client sets the pace.
  void write_file_piece(std::shared_ptr<http::response<http::file_body>> res,
                        std::shared_ptr<http::response_serializer<http::file_body>> sr) {
    stream_.expires_after(std::chrono::seconds(opt_.request_timeout_s));
    http::async_write_some(stream_, *sr, [self = shared_from_this(), res, sr](beast::error_code ec, size_t) {
      if (ec || sr->is_done()) return self->after_response(ec);
      self->write_file_piece(res, sr);
    });
  }

  void write_stream_header(int status, std::string content_type) {
    auto res = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(status), version_);
    res->set(http::field::server, "fmserve");
    res->set(http::field::content_type, content_type);
    res->set(http::field::cache_control, "no-cache");
    res->keep_alive(keep_alive_);
    res->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    streaming_ = true;
    writing_ = true;
    stream_.expires_after(std::chrono::seconds(opt_.request_timeout_s));  // the read's deadline may have passed
    http::async_write_header(stream_, *sr, [self = shared_from_this(), res, sr](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->fail_stream();
      self->flush_chunks();
    });
  }

  void queue_chunk(std::string data, bool last) {
    if (closed_) return;
    pending_bytes_ += data.size();
    if (pending_bytes_ > opt_.max_pending_output_bytes) {
      // The client stopped reading: drop the stream rather than buffer without bound; its request is cancelled.
      pending_.clear();
      pending_bytes_ = 0;
      if (opt_.on_stream_dropped) opt_.on_stream_dropped();
      return fail_stream();
    }
    pending_.push_back({std::move(data), last});
    if (!writing_) flush_chunks();
  }

  void flush_chunks() {
    if (writing_ || pending_.empty()) return;
    auto item = std::make_shared<std::pair<std::string, bool>>(std::move(pending_.front()));
    pending_.pop_front();
    pending_bytes_ -= std::min(pending_bytes_, item->first.size());
    writing_ = true;
    stream_.expires_after(std::chrono::seconds(opt_.request_timeout_s));
    auto done = [self = shared_from_this(), item](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->fail_stream();
      if (item->second) return self->after_response({});
      self->flush_chunks();
    };
    if (item->second) {
      if (item->first.empty()) {
        asio::async_write(stream_, http::make_chunk_last(), done);
      } else {
        auto buffers = std::make_shared<std::string>(std::move(item->first));
        asio::async_write(stream_, http::make_chunk(asio::buffer(*buffers)),
                          [self = shared_from_this(), buffers](beast::error_code ec, size_t) {
                            if (ec) {
                              self->writing_ = false;
                              return self->fail_stream();
                            }
                            asio::async_write(self->stream_, http::make_chunk_last(),
                                              [self](beast::error_code ec2, size_t) {
                                                self->writing_ = false;
                                                if (ec2) return self->fail_stream();
                                                self->after_response({});
                                              });
                          });
      }
    } else {
      asio::async_write(stream_, http::make_chunk(asio::buffer(item->first)), done);
    }
  }

  void attach(std::shared_ptr<SessionResponder> r) { responder_ = std::move(r); }
  tcp::socket& socket() { return stream_.socket(); }
  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void read_request() {
    parser_.emplace();
    parser_->body_limit(std::max(opt_.max_body_bytes, opt_.max_special_body_bytes));
    parser_->header_limit(static_cast<std::uint32_t>(opt_.max_header_bytes));
    // Headers must arrive within the header timeout (a follow-up request on a kept-alive connection: the idle
    // timeout); the body then gets its own deadline. A client trickling bytes cannot hold a connection forever.
    stream_.expires_after(std::chrono::seconds(first_request_ ? opt_.header_timeout_s : opt_.idle_timeout_s));
    first_request_ = false;
    body_limit_ = std::max(opt_.max_body_bytes, opt_.max_special_body_bytes);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->on_read(ec);
      const std::string target(self->parser_->get().target());
      const std::string path = target.substr(0, target.find('?'));
      // The header was read with the largest limit any path has; now the path's own limit applies (Beast checks a
      // Content-Length only when the header completes, so that check is repeated here).
      const size_t own = self->opt_.body_limit_for ? self->opt_.body_limit_for(path) : 0;
      self->body_limit_ = own > 0 ? own : self->opt_.max_body_bytes;
      if (self->parser_->content_length() && *self->parser_->content_length() > self->body_limit_)
        return self->reject(path, 413, "request body exceeds the limit of " + std::to_string(self->body_limit_) + " bytes");
      self->parser_->body_limit(self->body_limit_);
      if (self->opt_.spool_body_for && self->opt_.spool_body_for(std::string(self->parser_->get().method_string()), path))
        return self->read_spooled();
      self->stream_.expires_after(std::chrono::seconds(self->opt_.body_timeout_s));
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec2, size_t) { self->on_read(ec2); });
    });
  }

  // Reads the body piece by piece into a spool file: the parser's string body is emptied after each piece (the
  // parser counts the body limit over all of it).
  void read_spooled() {
    static std::atomic<uint64_t> counter{0};
    spool_path_ = opt_.spool_dir + "/body-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    spool_ = std::fopen(spool_path_.c_str(), "wb");
    if (!spool_) {
      spool_path_.clear();
      return reject(std::string(parser_->get().target()), 500, "cannot store the request body");
    }
    read_spooled_some();
  }

  void read_spooled_some() {
    http::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      std::string& body = self->parser_->get().body();
      if (!ec && !body.empty() && std::fwrite(body.data(), 1, body.size(), self->spool_) != body.size()) ec = beast::errc::make_error_code(beast::errc::io_error);
      body.clear();
      if (!ec && !self->parser_->is_done()) return self->read_spooled_some();
      const bool flushed = std::fflush(self->spool_) == 0 && ::fsync(::fileno(self->spool_)) == 0;
      std::fclose(self->spool_);
      self->spool_ = nullptr;
      if (ec || !flushed) {
        std::remove(self->spool_path_.c_str());
        self->spool_path_.clear();
        if (!ec) return self->reject(std::string(self->parser_->get().target()), 500, "cannot store the request body");
      }
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return close();
    }
    const std::string target(parser_->get().target());  // parsed with the request line, before any body error
    const std::string path = target.substr(0, target.find('?'));
    if (ec == http::error::body_limit) return reject(path, 413, "request body exceeds the limit of " + std::to_string(body_limit_) + " bytes");
    if (ec == http::error::header_limit) return reject(path, 431, "request headers are too large");
    if (ec) return reject(path, 400, "malformed HTTP request");

    auto& msg = parser_->get();
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& field : msg) req.headers[to_lower(std::string(field.name_string()))] = std::string(field.value());
    req.body = std::move(msg.body());
    req.body_file = std::move(spool_path_);
    spool_path_.clear();
    auto responder = std::make_shared<SessionResponder>(shared_from_this());
    responder_ = responder;
    watch_disconnect();
    // Handlers run on their own threads: parsing, templating and tokenizing a large request never holds up the
    // I/O of other connections.
    asio::post(handlers_, [self = shared_from_this(), req = std::move(req), responder] {
      try {
        self->handler_(req, responder);
      } catch (const std::exception& e) {
        std::clog << "fmserve: handler failed: " << e.what() << std::endl;
        responder->respond(500, "application/json", self->error_json(req.path, 500, "internal error"), {});
      }
    });
  }

  // Notices a client that closes the connection while its request is being handled.
  // Notices a client that closes the connection while its request is being handled. The watch belongs to one
  // request: a wait completing after that request was answered must not touch the next one. A completed wait is
  // only a hint (the reactor may report readiness that an earlier read already consumed): the end of the stream
  // is confirmed by peeking at the socket, and a false alarm re-arms the watch.
  void watch_disconnect() {
    std::weak_ptr<SessionResponder> watched = responder_;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), watched](beast::error_code ec) {
      if (ec || !self->responder_ || self->responder_ != watched.lock()) return;
      char byte;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return self->client_disconnected();
      if (n < 0) self->watch_disconnect();  // nothing to read yet: a false alarm
      // n > 0: the client sent more (pipelining); it is read after this response.
    });
  }

  void client_disconnected() {
    auto r = responder_;
    if (!r) return;
    std::function<void()> cb;
    {
      std::lock_guard<std::mutex> lock(r->mutex_);
      if (r->completed_) return;
      r->gone_->store(true);
      cb = std::move(r->disconnect_callback_);
    }
    if (cb) cb();
    close();
  }

  void reject(const std::string& path, int status, const std::string& message) {
    keep_alive_ = false;
    drain_before_close_ = true;  // the client may still be sending the body we refused
    write_full(status, "application/json", error_json(path, status, message), {});
  }

  // Closing a socket with unread input makes the kernel reset the connection, and the client may lose the error
  // response we just sent. So: stop sending, read and discard what still arrives (bounded in time and bytes), close.
  void drain_and_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    drain_some();
  }

  void drain_some() {
    auto scratch = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(asio::buffer(*scratch), [self = shared_from_this(), scratch](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (size_t{64} << 20)) return self->close();
      self->drain_some();
    });
  }

  std::string error_json(const std::string& path, int status, const std::string& message) const {
    if (opt_.error_body) return opt_.error_body(path, status, message);
    std::string escaped;
    for (char c : message) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    return "{\"error\":{\"message\":\"" + escaped + "\"}}";
  }

  void fail_stream() {
    client_disconnected();
    close();
  }

  void after_response(beast::error_code ec) {
    if (responder_) {
      std::lock_guard<std::mutex> lock(responder_->mutex_);
      responder_->completed_ = true;
    }
    responder_.reset();
    streaming_ = false;
    if (!ec && drain_before_close_) return drain_and_close();
    if (ec || !keep_alive_) return close();
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // the disconnect watch
    read_request();
  }

  void close() {
    closed_ = true;
    responder_.reset();  // breaks the session <-> responder cycle
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& opt_;
  const HttpHandler& handler_;
  std::atomic<size_t>& open_;
  asio::thread_pool& handlers_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool first_request_ = true;
  size_t body_limit_ = 0;  // of the request being read
  std::string spool_path_;  // the spooled body of the request being read
  std::FILE* spool_ = nullptr;
  bool streaming_ = false;
  bool writing_ = false;
  std::deque<std::pair<std::string, bool>> pending_;
  size_t pending_bytes_ = 0;  // queued, not yet handed to the socket
  bool closed_ = false;
  bool drain_before_close_ = false;
  size_t drained_ = 0;
  std::shared_ptr<SessionResponder> responder_;
};

void SessionResponder::respond(int status, const std::string& content_type, std::string body,
                               const std::map<std::string, std::string>& extra_headers) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_ || answered_) return;
    answered_ = true;
  }
  auto s = session_;
  asio::post(s->executor(), [s, status, content_type, body = std::move(body), extra_headers]() mutable {
    s->write_full(status, content_type, std::move(body), extra_headers);
  });
}

bool SessionResponder::respond_file(int status, const std::string& content_type, const std::string& path,
                                    const std::map<std::string, std::string>& extra_headers) {
  // Opened here, on the caller's thread: the response is the file as it was now, even if it is replaced later.
  auto file = std::make_shared<http::file_body::value_type>();
  beast::error_code ec;
  file->open(path.c_str(), beast::file_mode::scan, ec);
  if (ec) return false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_ || answered_) return true;
    answered_ = true;
  }
  auto s = session_;
  asio::post(s->executor(), [s, status, content_type, file, extra_headers]() mutable {
    s->write_file(status, content_type, std::move(file), extra_headers);
  });
  return true;
}

void SessionResponder::start_stream(int status, const std::string& content_type) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_ || answered_) return;
    answered_ = true;
  }
  auto s = session_;
  asio::post(s->executor(), [s, status, content_type] { s->write_stream_header(status, content_type); });
}

bool SessionResponder::write_chunk(std::string data) {
  if (gone_->load()) return false;
  auto s = session_;
  asio::post(s->executor(), [s, data = std::move(data)]() mutable { s->queue_chunk(std::move(data), false); });
  return true;
}

void SessionResponder::end_stream() {
  auto s = session_;
  asio::post(s->executor(), [s] { s->queue_chunk({}, true); });
}

void SessionResponder::on_disconnect(std::function<void()> callback) {
  bool fire = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (gone_->load()) fire = true;
    else disconnect_callback_ = callback;
  }
  if (fire && callback) callback();
}

void raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions opt;
  HttpHandler handler;
  std::atomic<size_t> open{0};  // before io: sessions destroyed with the io_context still decrement it
  asio::io_context io;
  std::unique_ptr<asio::thread_pool> handlers;  // request handlers, off the I/O threads
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (stopping) return;
      if (!ec) std::make_shared<Session>(std::move(socket), opt, handler, open, *handlers)->start();
      accept();
    });
  }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  raise_open_file_limit();
  impl_->opt = std::move(options);
  impl_->handler = std::move(handler);
  impl_->handlers = std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max(1, impl_->opt.handler_threads)));
  const tcp::endpoint endpoint(asio::ip::make_address(impl_->opt.host), impl_->opt.port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }
size_t HttpServer::open_connections() const { return impl_->open.load(); }

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
}

void HttpServer::run(bool handle_signals, int grace_s) {
  asio::signal_set signals(impl_->io);
  if (handle_signals) {
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.async_wait([this](beast::error_code ec, int) {
      if (!ec) {
        std::clog << "fmserve: shutting down" << std::endl;
        stop();
      }
    });
  }
  impl_->accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, impl_->opt.io_threads); ++i) threads.emplace_back([this] { impl_->io.run(); });
  // Run until stopped, then let in-flight requests drain for up to grace_s seconds.
  std::thread watchdog([this, grace_s, &signals] {
    while (!impl_->stopping.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_s);
    while (impl_->open.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    beast::error_code ignored;
    signals.cancel(ignored);
    impl_->io.stop();
  });
  impl_->io.run();
  watchdog.join();
  for (auto& t : threads) t.join();
  impl_->handlers->join();
}

}  // namespace fm
