#include "service/operation_runner.h"

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

namespace fm {

struct OperationRunner::Impl : std::enable_shared_from_this<Impl> {
  OperationStore& store;
  GenerationService& generation;
  OperationRunnerOptions opt;
  std::mutex mutex;
  std::condition_variable wake;
  std::map<std::string, std::shared_ptr<GenerationHandle>> active;  // id -> run in flight
  bool stopping = false;
  std::thread thread;

  Impl(OperationStore& s, GenerationService& g, OperationRunnerOptions o) : store(s), generation(g), opt(o) {}

  class Observer final : public GenerationObserver {
   public:
    Observer(std::shared_ptr<Impl> impl, std::string id) : impl_(std::move(impl)), id_(std::move(id)) {}
    // Called on the scheduler's thread: a store that cannot write (a full disk) is logged, never thrown there. The
    // operation then stays pending and runs again after a restart.
    void on_finished(const GenerationResult& result) override {
      record([&] { impl_->store.complete(id_, to_json(result)); });
    }
    void on_failed(const ServiceError& error) override {
      // A run cancelled because this process is stopping stays pending: the next start runs it again.
      record([&] {
        if (!impl_->is_stopping()) impl_->store.fail(id_, {static_cast<int>(error.code()), error.what()});
      });
    }

   private:
    template <typename F>
    void record(F&& write) {
      try {
        write();
      } catch (const std::exception& e) {
        std::clog << "fmserve: storing the result of operation " << id_ << " failed: " << e.what() << std::endl;
      }
      impl_->finished(id_);
    }
    std::shared_ptr<Impl> impl_;
    std::string id_;
  };

  bool is_stopping() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopping;
  }

  void finished(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex);
    active.erase(id);
    new_work = true;  // a slot is free
    wake.notify_all();
  }

  void run(const Operation& op) {
    const int attempt = store.begin_attempt(op.id);
    if (attempt == 0) return;  // done meanwhile (cancelled)
    if (attempt > opt.max_attempts) {
      store.fail(op.id, {static_cast<int>(ErrorCode::kInternal),
                         "the operation was interrupted " + std::to_string(opt.max_attempts) + " times"});
      return;
    }
    if (op.kind != kCompletionOperation) {
      store.fail(op.id, {static_cast<int>(ErrorCode::kInternal), "unknown operation kind '" + op.kind + "'"});
      return;
    }
    GenerationRequest request;
    try {
      request = generation_request_from_json(op.request);
    } catch (const std::exception& e) {
      store.fail(op.id, {static_cast<int>(ErrorCode::kInternal), std::string("stored request unreadable: ") + e.what()});
      return;
    }
    request.priority = Priority::kBackground;
    auto handle = std::make_shared<GenerationHandle>();
    {
      std::lock_guard<std::mutex> lock(mutex);
      active[op.id] = handle;  // before start(): its observer may finish at once
    }
    generation.start(std::move(request), std::make_shared<Observer>(shared_from_this(), op.id), handle);
  }

  void purge() {
    try {
      const auto keep = std::chrono::duration_cast<std::chrono::milliseconds>(opt.retention).count();
      const int purged = store.purge_done_before(now_ms() - keep);
      if (purged > 0) std::clog << "fmserve: purged " << purged << " expired operations" << std::endl;
    } catch (const std::exception& e) {
      std::clog << "fmserve: purging operations failed: " << e.what() << std::endl;
    }
  }

  void loop() {
    const auto purge_every = std::clamp<std::chrono::seconds>(opt.retention / 4, std::chrono::seconds(1), std::chrono::seconds(60));
    auto next_purge = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (std::chrono::steady_clock::now() >= next_purge) {
        lock.unlock();
        purge();
        lock.lock();
        next_purge = std::chrono::steady_clock::now() + purge_every;
      }
      new_work = false;  // cleared before reading the store: work stored after this read wakes us again
      const size_t limit = static_cast<size_t>(std::max(1, opt.concurrency));
      size_t free_slots = active.size() < limit ? limit - active.size() : 0;
      if (free_slots > 0) {
        const size_t want = free_slots + active.size();  // pending() includes the runs in flight
        lock.unlock();
        std::vector<Operation> todo;
        try {
          todo = store.pending(want);
        } catch (const std::exception& e) {
          std::clog << "fmserve: reading pending operations failed: " << e.what() << std::endl;
        }
        lock.lock();
        for (const Operation& op : todo) {
          if (free_slots == 0 || stopping) break;
          if (active.count(op.id)) continue;
          --free_slots;
          lock.unlock();
          try {
            run(op);
          } catch (const std::exception& e) {  // the store failed: the operation stays pending for a later pass
            std::clog << "fmserve: starting operation " << op.id << " failed: " << e.what() << std::endl;
            std::lock_guard<std::mutex> guard(mutex);
            active.erase(op.id);
          }
          lock.lock();
        }
      }
      wake.wait_until(lock, next_purge, [&] { return stopping || new_work; });
    }
  }

  bool new_work = false;
};

OperationRunner::OperationRunner(OperationStore& store, GenerationService& generation, OperationRunnerOptions options)
    : impl_(std::make_shared<Impl>(store, generation, options)) {}

OperationRunner::~OperationRunner() { stop(); }

void OperationRunner::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_] { impl->loop(); });
}

void OperationRunner::stop() {
  std::vector<std::shared_ptr<GenerationHandle>> running;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
    for (auto& [id, handle] : impl_->active) running.push_back(handle);
  }
  impl_->wake.notify_all();
  for (auto& h : running) h->cancel();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Runs cancelled above end at the scheduler's next step; give them a moment so their observers see `stopping`.
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->wake.wait_for(lock, std::chrono::seconds(5), [&] { return impl_->active.empty(); });
}

Operation OperationRunner::submit_completion(const std::string& folder, const std::string& created_by,
                                             const std::string& description, const GenerationRequest& request) {
  Operation op = impl_->store.create(folder, kCompletionOperation, description, created_by, to_json(request));
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->new_work = true;
  }
  impl_->wake.notify_all();
  return op;
}

std::optional<Operation> OperationRunner::cancel(const std::string& id) {
  impl_->store.fail(id, {static_cast<int>(ErrorCode::kCancelled), "the operation was cancelled"});
  std::shared_ptr<GenerationHandle> handle;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto it = impl_->active.find(id);
    if (it != impl_->active.end()) handle = it->second;
  }
  if (handle) handle->cancel();
  return impl_->store.get(id);
}

}  // namespace fm
