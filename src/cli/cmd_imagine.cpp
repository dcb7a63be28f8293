// `fmserve imagine`: text to image with a Stable Diffusion checkpoint, optionally writing every stage's tensor.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "cli/commands.h"
#include "diffusion/checkpoint.h"
#include "diffusion/txt2img.h"
#include "image/encode.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "tokenizer/clip_tokenizer.h"
#include "util/read_file.h"

namespace fm::cli {
namespace {

namespace fs = std::filesystem;

std::vector<int32_t> read_token_ids(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
    }
    if (used != word.size() || id < 0 || id > INT32_MAX)
      throw std::invalid_argument(path + ": '" + word + "' is not a token id");
    ids.push_back(static_cast<int32_t>(id));
  }
  if (ids.empty()) throw std::invalid_argument(path + " holds no token ids");
  return ids;
}

// The CLIP tokenizer given, or the diffusers layout's beside the checkpoint.
ClipTokenizer find_tokenizer(const ImagineOptions& opt) {
  if (!opt.tokenizer.empty()) return ClipTokenizer::from_directory(opt.tokenizer);
  if (const std::string dir = ClipTokenizer::directory_beside(opt.model); !dir.empty())
    return ClipTokenizer::from_directory(dir);
  throw std::invalid_argument("-p needs a CLIP tokenizer (vocab.json and merges.txt): give --tokenizer DIR, or use "
                              "--tokens-file");
}

void write_f32(const fs::path& path, const float* data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int run_imagine(const ImagineOptions& opt) {
  if (opt.prompt.empty() == opt.tokens_file.empty()) throw std::invalid_argument("give exactly one of -p and --tokens-file");
  if (opt.rng != "cuda") throw std::invalid_argument("--rng: only cuda (Philox) is available");
  const auto sampler = sampler_from_name(opt.sampler);
  if (!sampler) throw std::invalid_argument("--sampler must be euler, euler_a or dpmpp2m");
  const bool jpeg = ends_with(opt.output, ".jpg") || ends_with(opt.output, ".jpeg");
  if (!jpeg && !ends_with(opt.output, ".png")) throw std::invalid_argument("-o must name a .png or .jpg file");

  const auto t0 = std::chrono::steady_clock::now();
  SdCheckpoint checkpoint = open_sd_checkpoint(opt.model);
  if (opt.prediction != "auto") {
    const auto prediction = prediction_from_name(opt.prediction);
    if (!prediction) throw std::invalid_argument("--prediction must be eps, v or auto");
    checkpoint.config.prediction = *prediction;
  }
  const SdPipeline pipeline(checkpoint.config, *checkpoint.tensors);
  Txt2ImgRequest request;
  if (!opt.tokens_file.empty()) {
    request.tokens = read_token_ids(opt.tokens_file);
    request.negative_tokens = empty_prompt_tokens(checkpoint.config.clip, request.tokens.size());
    if (opt.cfg > 1.0f && !opt.negative_prompt.empty())
      throw std::invalid_argument("a negative prompt needs a tokenizer: use -p with --tokenizer");
  } else {
    const ClipTokenizer tokenizer = find_tokenizer(opt);
    const int context = static_cast<int>(checkpoint.config.clip.n_pos);
    // Long prompts continue in further 77-id windows, each encoded on its own and concatenated.
    const int32_t pad = checkpoint.config.clip.pad_token();
    for (const auto& w : tokenizer.windows(opt.prompt, context, pad)) request.tokens.insert(request.tokens.end(), w.begin(), w.end());
    for (const auto& w : tokenizer.windows(opt.negative_prompt, context, pad))
      request.negative_tokens.insert(request.negative_tokens.end(), w.begin(), w.end());
  }
  request.seed = opt.seed;
  request.steps = opt.steps;
  request.width = opt.width;
  request.height = opt.height;
  request.cfg_scale = opt.cfg;
  request.sampler = *sampler;
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  StageSink sink;
  if (!opt.dump.empty()) {
    fs::create_directories(opt.dump);
    std::ofstream tokens(fs::path(opt.dump) / "tokens.txt");
    for (size_t i = 0; i < request.tokens.size(); ++i) tokens << (i ? " " : "") << request.tokens[i];
    tokens << "\n";
    sink = [&](const std::string& name, const std::vector<int64_t>& shape, const float* data) {
      size_t n = 1;
      for (int64_t d : shape) n *= static_cast<size_t>(d);
      write_f32(fs::path(opt.dump) / name, data, n);
    };
  }
  const bool bar = opt.progress == "bar" || (opt.progress == "auto" && ::isatty(2));
  const StepProgress progress = [&](int step, int steps, double seconds) {
    if (opt.progress == "none") return;
    const int width = 30, filled = width * step / steps;
    std::string cells(static_cast<size_t>(filled), '#');
    cells.resize(width, '.');
    char line[160];
    if (bar) {
      std::snprintf(line, sizeof line, "\r[%s] step %d/%d  %.2f s/step ", cells.c_str(), step, steps, seconds);
      std::cerr << line << (step == steps ? "\n" : "") << std::flush;
    } else {
      std::snprintf(line, sizeof line, "imagine: step %d/%d, %.2f s", step, steps, seconds);
      std::cerr << line << std::endl;
    }
  };

  ThreadPool pool(default_threads(opt.threads));
  ScratchBuffer scratch;
  Compute c;
  c.pool = &pool;
  c.kernels = &best_kernels();
  c.scratch = &scratch;
  const Txt2ImgResult result = pipeline.generate(c, request, sink, progress);
  write_bytes(opt.output, jpeg ? encode_jpeg(result.image) : encode_png(result.image));
  std::cerr << "fmserve: wrote " << opt.output << " (" << opt.width << "x" << opt.height << ", " << opt.steps
            << " steps, seed " << opt.seed << "): load " << load_seconds << " s, text " << result.encode_seconds
            << " s, sampling " << result.sampling_seconds << " s, decode " << result.decode_seconds << " s" << std::endl;
  return 0;
}

}  // namespace fm::cli
