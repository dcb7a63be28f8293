#include "workflow/jq_worker.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace fm::workflow {

// Implemented in jq_template.cpp: one evaluation in this process, {"v": …} or {"e": …}.
nlohmann::ordered_json evaluate_here(const std::string& program, const nlohmann::ordered_json& packed);

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMaxFrameBytes = uint64_t{1} << 30;
constexpr int kMaxHelpers = 4;
std::atomic<int64_t> time_limit_ms{10000};

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool write_frame(int fd, const std::string& payload) {
  const uint64_t n = payload.size();
  char header[8];
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return write_all(fd, header, 8) && write_all(fd, payload.data(), payload.size());
}

// Reads exactly n bytes; a deadline (or none) bounds the wait. 1: done, 0: closed or failed, -1: timed out.
int read_all(int fd, char* data, size_t n, const Clock::time_point* deadline) {
  while (n > 0) {
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return -1;
      pollfd p{fd, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return 0;
      if (rc == 0) continue;
    }
    const ssize_t r = ::recv(fd, data, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    data += r;
    n -= static_cast<size_t>(r);
  }
  return 1;
}

int read_frame(int fd, std::string& payload, const Clock::time_point* deadline) {
  unsigned char header[8];
  int rc = read_all(fd, reinterpret_cast<char*>(header), 8, deadline);
  if (rc != 1) return rc;
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{header[i]} << (8 * i);
  if (n > kMaxFrameBytes) return 0;
  payload.resize(n);
  return read_all(fd, payload.data(), n, deadline);
}

struct Helper {
  pid_t pid = -1;
  int fd = -1;
};

// The helper binary: beside the running executable (build/bin/fmserve-jq), unless FMSERVE_JQ_HELPER names one.
std::string helper_path() {
  if (const char* p = std::getenv("FMSERVE_JQ_HELPER"); p && *p) return p;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot locate the jq helper: /proc/self/exe is unreadable");
  return (self.parent_path() / "fmserve-jq").string();
}

Helper spawn_helper() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("cannot create a socket pair for the jq helper");
  const std::string path = helper_path();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 3);  // the helper talks on fd 3 (dup2 clears CLOEXEC)
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);  // and holds none of the server's sockets
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    throw std::runtime_error("cannot start the jq helper " + path + ": " + std::strerror(rc));
  }
  return Helper{pid, sv[0]};
}

void end_helper(Helper& h) {
  if (h.pid > 0) {
    ::kill(h.pid, SIGKILL);
    int status = 0;
    while (::waitpid(h.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (h.fd >= 0) ::close(h.fd);
  h = Helper{};
}

class HelperPool {
 public:
  ~HelperPool() {
    for (Helper& h : idle_) end_helper(h);
  }

  Helper acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !idle_.empty() || live_ < kMaxHelpers; });
    if (!idle_.empty()) {
      Helper h = idle_.back();
      idle_.pop_back();
      return h;
    }
    ++live_;
    lock.unlock();
    try {
      return spawn_helper();
    } catch (...) {
      lock.lock();
      --live_;
      cv_.notify_one();
      throw;
    }
  }

  void release(Helper h, bool healthy) {
    if (!healthy) end_helper(h);
    std::lock_guard<std::mutex> lock(mutex_);
    if (healthy) idle_.push_back(h);
    else --live_;
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Helper> idle_;
  int live_ = 0;
};

HelperPool& pool() {
  static HelperPool p;
  return p;
}

}  // namespace

void set_jq_time_limit_ms(int64_t ms) { time_limit_ms = std::max<int64_t>(1, ms); }
int64_t jq_time_limit_ms() { return time_limit_ms.load(); }

json evaluate_in_helper(const std::string& program, const json& packed) {
  const std::string request = json{{"p", program}, {"i", packed}}.dump(-1, ' ', false, json::error_handler_t::replace);
  Helper h = pool().acquire();
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(time_limit_ms.load());
  std::string answer;
  int rc = write_frame(h.fd, request) ? read_frame(h.fd, answer, &deadline) : 0;
  if (rc != 1) {
    pool().release(h, false);
    if (rc < 0)
      throw std::runtime_error("jq program '" + program + "' ran longer than " + std::to_string(time_limit_ms.load()) +
                               " ms and was stopped");
    throw std::runtime_error("the jq helper ended while running '" + program + "'");
  }
  pool().release(h, true);
  json out = json::parse(answer, nullptr, false);
  if (out.is_discarded() || !out.is_object()) throw std::runtime_error("the jq helper answered something that is not JSON");
  return out;
}

int serve_jq_requests(int fd) {
  std::string request;
  while (read_frame(fd, request, nullptr) == 1) {
    json answer;
    const json r = json::parse(request, nullptr, false);
    if (r.is_discarded() || !r.contains("p") || !r["p"].is_string()) answer = {{"e", "malformed request"}};
    else answer = evaluate_here(r["p"].get<std::string>(), r.value("i", json()));
    if (!write_frame(fd, answer.dump(-1, ' ', false, json::error_handler_t::replace))) break;
  }
  return 0;
}

}  // namespace fm::workflow
