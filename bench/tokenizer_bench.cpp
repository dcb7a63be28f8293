// Encode throughput (MB/s) of tokenizers on a large text, and chat-template render time; prints one JSON object.
// Usage: tokenizer_bench TEXT_FILE TOKENIZER [TOKENIZER...] [--template FILE.jinja]...
// A TOKENIZER is a GGUF file or a Hugging Face tokenizer.json.
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "util/read_file.h"
#include "tokenizer/hf_tokenizer.h"

namespace {


double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " TEXT_FILE TOKENIZER... [--template FILE.jinja]...\n";
    return 2;
  }
  try {
    const std::string text = fm::read_file(argv[1]);
    nlohmann::ordered_json report;
    report["text_bytes"] = text.size();
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--template" && i + 1 < argc) {
        const std::string path = argv[++i];
        fm::ChatTemplate tpl(fm::read_file(path), "<s>", "</s>");
        fm::ChatRequest request;
        for (int turn = 0; turn < 8; ++turn) {
          request.messages.push_back({{"role", turn % 2 ? "assistant" : "user"}, {"content", "Message number " + std::to_string(turn)}});
        }
        request.add_generation_prompt = true;
        const int reps = 200;
        auto t0 = std::chrono::steady_clock::now();
        size_t bytes = 0;
        for (int r = 0; r < reps; ++r) bytes += tpl.render(request).size();
        report["templates"][path] = {{"render_us", seconds_since(t0) / reps * 1e6}, {"output_bytes", bytes / reps}};
        continue;
      }
      auto t_load = std::chrono::steady_clock::now();
      auto tokenizer = fm::load_tokenizer(arg);
      const double load_s = seconds_since(t_load);
      size_t tokens = 0;
      double first = 0, best = 1e30;
      for (int rep = 0; rep < 3; ++rep) {  // the first pass starts with a cold word cache; best of three after
        auto t0 = std::chrono::steady_clock::now();
        tokens = tokenizer->encode(text, false).size();
        const double dt = seconds_since(t0);
        if (rep == 0) first = dt;
        best = std::min(best, dt);
      }
      const double mb = static_cast<double>(text.size()) / 1e6;
      report["tokenizers"][arg] = {{"load_s", load_s}, {"tokens", tokens}, {"encode_s", best},
                                   {"mb_per_s", mb / best}, {"cold_mb_per_s", mb / first}};
    }
    std::cout << report.dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "tokenizer_bench: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
