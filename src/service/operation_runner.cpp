#include "service/operation_runner.h"

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <map>
#include <thread>

namespace fm {

void OperationRun::on_cancel(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cancelled_) {
      cancel_callback_ = std::move(f);
      return;
    }
  }
  f();
}

void OperationRun::cancel(bool stopping) {
  std::function<void()> callback;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping) stopping_ = true;
    if (cancelled_.exchange(true)) return;
    callback = std::move(cancel_callback_);
  }
  if (callback) callback();
}

void OperationRun::finish() {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done = std::move(finished_);
    finished_ = nullptr;
  }
  if (done) done();
}

namespace {

// Async completions: one generation per operation, its result stored as the operation's response.
class CompletionExecutor final : public OperationExecutor {
 public:
  CompletionExecutor(OperationStore& store, GenerationService& generation) : store_(store), generation_(generation) {}

  void start(std::shared_ptr<OperationRun> run) override {
    GenerationRequest request;
    try {
      request = generation_request_from_json(run->operation().request);
    } catch (const std::exception& e) {
      store_.fail(run->operation().id, {static_cast<int>(ErrorCode::kInternal), std::string("stored request unreadable: ") + e.what()});
      return run->finish();
    }
    request.priority = Priority::kBackground;
    auto handle = std::make_shared<GenerationHandle>();
    run->on_cancel([handle] { handle->cancel(); });
    generation_.start(std::move(request), std::make_shared<Observer>(store_, run), handle);
  }

 private:
  class Observer final : public GenerationObserver {
   public:
    Observer(OperationStore& store, std::shared_ptr<OperationRun> run) : store_(store), run_(std::move(run)) {}
    // Called on the scheduler's thread: a store that cannot write (a full disk) is logged, never thrown there. The
    // operation then stays pending and runs again after a restart.
    void on_finished(const GenerationResult& result) override {
      record([&] { store_.complete(run_->operation().id, to_json(result)); });
    }
    void on_failed(const ServiceError& error) override {
      // A run cancelled because this process is stopping stays pending: the next start runs it again.
      record([&] {
        if (!run_->stopping()) store_.fail(run_->operation().id, {static_cast<int>(error.code()), error.what()});
      });
    }

   private:
    template <typename F>
    void record(F&& write) {
      try {
        write();
      } catch (const std::exception& e) {
        std::clog << "fmserve: storing the result of operation " << run_->operation().id << " failed: " << e.what() << std::endl;
      }
      run_->finish();
    }
    OperationStore& store_;
    std::shared_ptr<OperationRun> run_;
  };

  OperationStore& store_;
  GenerationService& generation_;
};

}  // namespace

struct OperationRunner::Impl : std::enable_shared_from_this<Impl> {
  struct Kind {
    OperationExecutor* executor = nullptr;
    OperationKind options;
    std::map<std::string, std::shared_ptr<OperationRun>> active;  // id -> run in flight
  };

  OperationStore& store;
  OperationRunnerOptions opt;
  CompletionExecutor completions;
  std::mutex mutex;
  std::condition_variable wake;
  std::map<std::string, Kind> kinds;
  bool stopping = false, new_work = false;
  std::thread thread;

  Impl(OperationStore& s, GenerationService& g, OperationRunnerOptions o) : store(s), opt(o), completions(s, g) {
    kinds[kCompletionOperation] = Kind{&completions, OperationKind{std::max(1, o.concurrency), o.max_attempts}, {}};
  }

  size_t active_count() const {
    size_t n = 0;
    for (const auto& [name, kind] : kinds) n += kind.active.size();
    return n;
  }

  void finished(const std::string& kind, const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex);
    kinds[kind].active.erase(id);
    new_work = true;  // a slot is free
    wake.notify_all();
  }

  void run(const std::string& kind_name, const Operation& op) {
    const int attempt = store.begin_attempt(op.id);
    if (attempt == 0) return;  // done meanwhile (cancelled)
    OperationExecutor* executor;
    int max_attempts;
    {
      std::lock_guard<std::mutex> lock(mutex);
      executor = kinds[kind_name].executor;
      max_attempts = kinds[kind_name].options.max_attempts;
    }
    if (max_attempts > 0 && attempt > max_attempts) {
      store.fail(op.id, {static_cast<int>(ErrorCode::kInternal),
                         "the operation was interrupted " + std::to_string(max_attempts) + " times"});
      return;
    }
    auto run = std::make_shared<OperationRun>(op);
    run->finished_ = [weak = std::weak_ptr<Impl>(shared_from_this()), kind_name, id = op.id] {
      if (auto self = weak.lock()) self->finished(kind_name, id);
    };
    {
      std::lock_guard<std::mutex> lock(mutex);
      kinds[kind_name].active[op.id] = run;  // before start(): the run may finish at once
    }
    executor->start(run);
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

  // Starts what the free slots of one kind allow. Called with the lock held; releases it while reading the store.
  void fill(std::unique_lock<std::mutex>& lock, const std::string& kind_name) {
    Kind& kind = kinds[kind_name];
    const size_t limit = static_cast<size_t>(std::max(1, kind.options.concurrency));
    size_t free_slots = kind.active.size() < limit ? limit - kind.active.size() : 0;
    if (free_slots == 0) return;
    const size_t want = free_slots + kind.active.size();  // pending() includes the runs in flight
    lock.unlock();
    std::vector<Operation> todo;
    try {
      todo = store.pending(want, kind_name);
    } catch (const std::exception& e) {
      std::clog << "fmserve: reading pending operations failed: " << e.what() << std::endl;
    }
    lock.lock();
    for (const Operation& op : todo) {
      if (free_slots == 0 || stopping) break;
      if (kinds[kind_name].active.count(op.id)) continue;
      --free_slots;
      lock.unlock();
      try {
        run(kind_name, op);
      } catch (const std::exception& e) {  // the store failed: the operation stays pending for a later pass
        std::clog << "fmserve: starting operation " << op.id << " failed: " << e.what() << std::endl;
        std::lock_guard<std::mutex> guard(mutex);
        kinds[kind_name].active.erase(op.id);
      }
      lock.lock();
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
      std::vector<std::string> names;
      for (const auto& [name, kind] : kinds) names.push_back(name);
      for (const std::string& name : names)
        if (!stopping) fill(lock, name);
      wake.wait_until(lock, next_purge, [&] { return stopping || new_work; });
    }
  }

  std::shared_ptr<OperationRun> find_run(const std::string& id) {
    for (auto& [name, kind] : kinds) {
      auto it = kind.active.find(id);
      if (it != kind.active.end()) return it->second;
    }
    return nullptr;
  }

  void notify() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      new_work = true;
    }
    wake.notify_all();
  }
};

OperationRunner::OperationRunner(OperationStore& store, GenerationService& generation, OperationRunnerOptions options)
    : impl_(std::make_shared<Impl>(store, generation, options)) {}

OperationRunner::~OperationRunner() { stop(); }

void OperationRunner::add_kind(const std::string& kind, OperationExecutor& executor, OperationKind options) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->kinds[kind] = Impl::Kind{&executor, options, {}};
}

void OperationRunner::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_] { impl->loop(); });
}

void OperationRunner::stop() {
  std::vector<std::shared_ptr<OperationRun>> running;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
    for (auto& [name, kind] : impl_->kinds)
      for (auto& [id, run] : kind.active) running.push_back(run);
  }
  impl_->wake.notify_all();
  for (auto& run : running) run->cancel(true);
  if (impl_->thread.joinable()) impl_->thread.join();
  // Runs cancelled above end at the scheduler's next step; give them a moment so their records are settled.
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->wake.wait_for(lock, std::chrono::seconds(10), [&] { return impl_->active_count() == 0; });
}

Operation OperationRunner::submit(const std::string& folder, const std::string& kind, const std::string& description,
                                  const std::string& created_by, const nlohmann::json& request) {
  Operation op = impl_->store.create(folder, kind, description, created_by, request);
  impl_->notify();
  return op;
}

Operation OperationRunner::submit_completion(const std::string& folder, const std::string& created_by,
                                             const std::string& description, const GenerationRequest& request) {
  return submit(folder, kCompletionOperation, description, created_by, to_json(request));
}

std::optional<Operation> OperationRunner::cancel(const std::string& id) {
  std::optional<Operation> op = impl_->store.get(id);
  if (!op || op->done) return op;
  if (impl_->store.fail(id, {static_cast<int>(ErrorCode::kCancelled), "the operation was cancelled"})) {
    OperationExecutor* executor = nullptr;
    std::shared_ptr<OperationRun> run;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      auto it = impl_->kinds.find(op->kind);
      if (it != impl_->kinds.end()) executor = it->second.executor;
      run = impl_->find_run(id);
    }
    if (executor) executor->cancelled(*op);
    if (run) run->cancel(false);
  }
  return impl_->store.get(id);
}

OperationStore& OperationRunner::store() { return impl_->store; }

}  // namespace fm
