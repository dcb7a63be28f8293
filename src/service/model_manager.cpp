#include "service/model_manager.h"

#include "util/read_file.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fm {

const char* const kDefaultChatTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

LoadedModel::~LoadedModel() { scheduler.reset(); }

ModelManager::ModelManager(ServiceConfig config, SchedulerOptions scheduler_options)
    : config_(std::move(config)), scheduler_options_(scheduler_options) {}

namespace {


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

}  // namespace

std::shared_ptr<LoadedModel> ModelManager::get(const std::string& name, const std::string& branch) {
  const ModelConfig* cfg = config_.find(name);
  if (!cfg) throw ModelNotFound("model '" + name + "' does not exist");
  auto path_it = cfg->branches.find(branch);
  if (path_it == cfg->branches.end()) throw ModelNotFound("model '" + name + "' has no branch '" + branch + "'");
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& m : loaded_) {
    if (m->name == name && m->branch == branch) {
      m->last_used = std::chrono::steady_clock::now();
      std::shared_ptr<LoadedModel> found = m;
      evict_for(0);  // a model still busy when the budget was last exceeded may be idle now
      return found;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::clog << "fmserve: loading model " << name << "/" << branch << " from " << path_it->second << std::endl;
  auto m = std::make_shared<LoadedModel>();
  m->name = name;
  m->branch = branch;
  m->config = cfg;
  m->file = GgufFile::open(path_it->second);
  m->model = load_model(*m->file);
  m->tokenizer = make_tokenizer(*m->file);
  const Vocab& vocab = m->tokenizer->vocab();
  std::string source = m->file->get_string_or("tokenizer.chat_template", "");
  if (source.empty() && !cfg->chat_template.empty()) source = read_file(cfg->chat_template);
  if (source.empty()) source = kDefaultChatTemplate;
  m->chat_template = std::make_unique<ChatTemplate>(source, vocab.bos() >= 0 ? vocab.text(vocab.bos()) : "",
                                                    vocab.eos() >= 0 ? vocab.text(vocab.eos()) : "");
  m->stop_tokens = end_of_generation_tokens(vocab);
  SchedulerOptions so = scheduler_options_;
  so.n_ctx = std::min<int64_t>(cfg->context, m->model->hparams().n_ctx_train);
  m->scheduler = std::make_unique<Scheduler>(*m->model, so);
  m->bytes = m->file->file_size() + so.kv_budget_bytes;
  m->last_used = std::chrono::steady_clock::now();
  evict_for(m->bytes);
  loaded_.push_back(m);
  std::clog << "fmserve: loaded model " << name << "/" << branch << " (" << m->model->hparams().arch << ", "
            << m->file->file_size() / (1 << 20) << " MiB, context " << so.n_ctx << ") in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s" << std::endl;
  return m;
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
    const SchedulerStats s = m->scheduler->stats();
    sum.queued += s.queued;
    sum.running += s.running;
    sum.kv_bytes_in_use += s.kv_bytes_in_use;
    sum.steps += s.steps;
    sum.tokens_generated += s.tokens_generated;
    sum.prompt_tokens += s.prompt_tokens;
  }
  return sum;
}

void ModelManager::shutdown() {
  std::vector<std::shared_ptr<LoadedModel>> models;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    models.swap(loaded_);
  }
  for (auto& m : models) m->scheduler->stop();
}

size_t ModelManager::loaded_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_.size();
}

}  // namespace fm
