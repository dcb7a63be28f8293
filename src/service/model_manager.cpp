#include "service/model_manager.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "util/read_file.h"

namespace fm {

const char* const kDefaultChatTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

LoadedModel::~LoadedModel() {
  scheduler.reset();
  embedder.reset();
}

const char* model_state_name(ModelStatus::State state) {
  switch (state) {
    case ModelStatus::State::kNotLoaded: return "not_loaded";
    case ModelStatus::State::kLoading: return "loading";
    case ModelStatus::State::kLoaded: return "loaded";
    case ModelStatus::State::kFailed: return "failed";
  }
  return "failed";
}

std::unique_ptr<ChatTemplate> make_chat_template(const GgufFile& file, const Vocab& vocab, const std::string& fallback_file) {
  std::string source = file.get_string_or("tokenizer.chat_template", "");
  if (source.empty() && !fallback_file.empty()) source = read_file(fallback_file);
  if (source.empty()) source = kDefaultChatTemplate;
  return std::make_unique<ChatTemplate>(source, vocab.bos() >= 0 ? vocab.text(vocab.bos()) : "",
                                        vocab.eos() >= 0 ? vocab.text(vocab.eos()) : "");
}

std::vector<int32_t> end_of_generation_tokens(const Vocab& vocab) {
  std::vector<int32_t> out;
  if (vocab.eos() >= 0) out.push_back(vocab.eos());
  if (vocab.eot() >= 0) out.push_back(vocab.eot());
  for (const char* text : {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"}) {
    const int32_t id = vocab.find(text);
    if (id >= 0 && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

std::string file_date(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  std::tm tm{};
  gmtime_r(&st.st_mtime, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%d.%m.%Y", &tm);
  return buf;
}

ModelManager::ModelManager(ServiceConfig config, SchedulerOptions scheduler_options)
    : config_(std::move(config)), scheduler_options_(scheduler_options) {
  loader_ = std::thread([this] { loader_loop(); });
}

ModelManager::~ModelManager() { shutdown(); }

void ModelManager::acquire(const std::string& name, const std::string& branch, Ready ready) {
  const ModelConfig* cfg = config_.find(name);
  if (!cfg) throw ModelNotFound("model '" + name + "' does not exist");
  if (!cfg->branches.count(branch)) throw ModelNotFound("model '" + name + "' has no branch '" + branch + "'");
  if (cfg->kind == ModelKind::kImage)
    throw ModelNotFound("model '" + name + "' generates images: call it with an art:// URI on imageGenerationAsync or "
                        "/v1/images/generations");
  std::shared_ptr<LoadedModel> found;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      ready(nullptr, std::make_exception_ptr(std::runtime_error("the server is shutting down")));
      return;
    }
    for (auto& m : loaded_) {
      if (m->name == name && m->branch == branch) {
        m->last_used = std::chrono::steady_clock::now();
        found = m;
        evict_for(0);  // a model still busy when the budget was last exceeded may be idle now
        break;
      }
    }
    if (!found) {
      const auto key = std::make_pair(name, branch);
      auto& waiters = loading_[key];
      if (waiters.empty()) load_queue_.push_back(key);
      waiters.push_back(std::move(ready));
      wake_.notify_all();
      return;
    }
  }
  ready(std::move(found), nullptr);
}

std::shared_ptr<LoadedModel> ModelManager::get(const std::string& name, const std::string& branch) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::shared_ptr<LoadedModel> model;
  std::exception_ptr error;
  acquire(name, branch, [&](std::shared_ptr<LoadedModel> got, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(m);
    model = std::move(got);
    error = e;
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return done; });
  if (error) std::rethrow_exception(error);
  return model;
}

std::shared_ptr<LoadedModel> ModelManager::load(const ModelConfig& cfg, const std::string& branch) const {
  const std::string& path = cfg.branches.at(branch);
  const auto t0 = std::chrono::steady_clock::now();
  std::clog << "fmserve: loading model " << cfg.name << "/" << branch << " from " << path << std::endl;
  auto m = std::make_shared<LoadedModel>();
  m->name = cfg.name;
  m->branch = branch;
  m->config = &cfg;
  auto v = cfg.versions.find(branch);
  m->version = v != cfg.versions.end() ? v->second : file_date(path);
  m->file = GgufFile::open(path);
  m->model = load_model(*m->file);
  m->tokenizer = make_tokenizer(*m->file);
  const Vocab& vocab = m->tokenizer->vocab();
  m->chat_template = make_chat_template(*m->file, vocab, cfg.chat_template);
  m->stop_tokens = end_of_generation_tokens(vocab);
  m->context = std::min<int64_t>(cfg.context, m->model->hparams().n_ctx_train);
  if (cfg.kind == ModelKind::kEmbedding || cfg.kind == ModelKind::kClassifier) {
    m->embedding = embedding_defaults(*m->file);
    if (!cfg.pooling.empty()) parse_pooling(cfg.pooling, &m->embedding.pooling);
    if (cfg.causal) m->embedding.causal = *cfg.causal;
    if (cfg.normalize) m->embedding.normalize = *cfg.normalize;
    m->head = ClassifierHead::load(*m->file, m->model->hparams().n_embd);
    if (m->head && cfg.multi_label) m->head->multi_label = *cfg.multi_label;
    EmbedderOptions eo;
    eo.max_input = m->context;
    eo.max_batch_tokens = std::max<int64_t>(m->context, 512);
    eo.max_queue = scheduler_options_.max_queue * 16;  // inputs, not requests: one request may hold many
    eo.kv_type = scheduler_options_.kv_type;
    eo.threads = scheduler_options_.threads;
    m->embedder = std::make_unique<Embedder>(*m->model, eo);
    m->bytes = m->file->file_size();
  } else {
    SchedulerOptions so = scheduler_options_;
    so.n_ctx = m->context;
    if (cfg.kind == ModelKind::kVision) {
      const std::string mmproj = cfg.mmproj_for(branch);
      m->mmproj_file = GgufFile::open(mmproj);
      m->vision = load_vision_encoder(*m->mmproj_file);
      m->vision->set_max_side(cfg.image_max_side);
      if (m->vision->n_embd_text() != m->model->hparams().n_embd)
        throw std::runtime_error("projector '" + mmproj + "' writes " + std::to_string(m->vision->n_embd_text()) +
                                 "-wide embeddings but model '" + cfg.name + "' is " +
                                 std::to_string(m->model->hparams().n_embd) + " wide");
      so.max_image_tokens = m->vision->max_tokens();
      m->images = std::make_unique<ImageEncoder>(*m->vision, scheduler_options_.threads, config_.image_fetch);
    }
    m->scheduler = std::make_unique<Scheduler>(*m->model, so);
    m->bytes = m->file->file_size() + so.kv_budget_bytes + (m->mmproj_file ? m->mmproj_file->file_size() : 0);
  }
  m->last_used = std::chrono::steady_clock::now();
  std::clog << "fmserve: loaded model " << cfg.name << "/" << branch << " (" << m->model->hparams().arch << ", "
            << m->file->file_size() / (1 << 20) << " MiB, " << model_kind_name(cfg.kind) << ", context " << m->context << ") in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s" << std::endl;
  return m;
}

void ModelManager::loader_loop() {
  for (;;) {
    std::pair<std::string, std::string> key;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !load_queue_.empty(); });
      if (stopping_) return;
      key = load_queue_.front();
      load_queue_.erase(load_queue_.begin());
    }
    std::shared_ptr<LoadedModel> model;
    std::exception_ptr error;
    try {
      model = load(*config_.find(key.first), key.second);  // outside the lock: mapping and packing take time
    } catch (const std::exception& e) {
      std::clog << "fmserve: loading model " << key.first << "/" << key.second << " failed: " << e.what() << std::endl;
      error = std::current_exception();
    }
    std::vector<Ready> waiters;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiters.swap(loading_[key]);
      loading_.erase(key);
      if (model && !stopping_) {
        evict_for(model->bytes);
        loaded_.push_back(model);
        failures_.erase(key);
      } else if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          failures_[key] = e.what();
        }
      }
    }
    for (auto& ready : waiters) ready(model, error);
  }
}

void ModelManager::evict_for(size_t incoming) {
  size_t total = incoming;
  for (const auto& m : loaded_) total += m->bytes;
  while (total > config_.memory_budget_bytes) {
    // Least recently used model nobody is using right now (the manager holds the only reference).
    auto victim = loaded_.end();
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it)
      if (it->use_count() == 1 && (victim == loaded_.end() || (*it)->last_used < (*victim)->last_used)) victim = it;
    if (victim == loaded_.end()) break;
    std::clog << "fmserve: unloading model " << (*victim)->name << "/" << (*victim)->branch << std::endl;
    total -= (*victim)->bytes;
    loaded_.erase(victim);
  }
}

SchedulerStats ModelManager::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SchedulerStats sum;
  for (const auto& m : loaded_) {
    if (m->embedder) {  // embedding and classifier models: inputs waiting and in the current pass
      const Embedder::Stats e = m->embedder->stats();
      sum.queued += e.queued;
      sum.running += e.running;
    }
    if (!m->scheduler) continue;
    const SchedulerStats s = m->scheduler->stats();
    sum.queued += s.queued;
    sum.running += s.running;
    sum.kv_bytes_in_use += s.kv_bytes_in_use;
    sum.kv_budget_bytes += s.kv_budget_bytes;
    sum.steps += s.steps;
    sum.tokens_generated += s.tokens_generated;
    sum.prompt_tokens += s.prompt_tokens;
  }
  return sum;
}

ImageCacheStats ModelManager::image_cache_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ImageCacheStats sum;
  for (const auto& m : loaded_) {
    if (!m->images) continue;
    const ImageCacheStats s = m->images->stats();
    sum.hits += s.hits;
    sum.misses += s.misses;
    sum.entries += s.entries;
    sum.bytes += s.bytes;
  }
  return sum;
}

std::vector<ModelStatus> ModelManager::status() const {
  std::vector<ModelStatus> out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& cfg : config_.models) {
    for (const auto& entry : cfg.branches) {
      const std::string& branch = entry.first;
      const std::string& path = entry.second;
      ModelStatus st;
      st.name = cfg.name;
      st.branch = branch;
      const auto key = std::make_pair(cfg.name, branch);
      const bool loaded = std::any_of(loaded_.begin(), loaded_.end(),
                                      [&](const auto& m) { return m->name == cfg.name && m->branch == branch; });
      struct stat file {};
      if (loaded) st.state = ModelStatus::State::kLoaded;
      else if (loading_.count(key)) st.state = ModelStatus::State::kLoading;
      else if (auto f = failures_.find(key); f != failures_.end()) st.state = ModelStatus::State::kFailed, st.error = f->second;
      else if (stat(path.c_str(), &file) != 0 || !S_ISREG(file.st_mode)) st.state = ModelStatus::State::kFailed, st.error = "cannot read '" + path + "'";
      out.push_back(std::move(st));
    }
  }
  return out;
}

void ModelManager::shutdown() {
  std::vector<std::shared_ptr<LoadedModel>> models;
  std::map<std::pair<std::string, std::string>, std::vector<Ready>> waiting;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    models.swap(loaded_);
  }
  wake_.notify_all();
  if (loader_.joinable()) loader_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting.swap(loading_);
    load_queue_.clear();
  }
  const auto error = std::make_exception_ptr(std::runtime_error("the server is shutting down"));
  for (auto& [key, waiters] : waiting)
    for (auto& ready : waiters) ready(nullptr, error);
  for (auto& m : models) {
    if (m->scheduler) m->scheduler->stop();
    if (m->embedder) m->embedder->stop();
  }
}

size_t ModelManager::loaded_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_.size();
}

}  // namespace fm
