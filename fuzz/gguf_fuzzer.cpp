// libFuzzer target: any byte string must parse as GGUF or be rejected with GgufError; whatever parses must load
// as a model and run one step, or fail with an exception. Crashes, leaks and UB are the bugs (built with ASan).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<fm::GgufFile> file;
  try {
    file = fm::GgufFile::parse(data, size);
  } catch (const fm::GgufError&) {
    return 0;
  }
  try {
    auto model = fm::load_model(*file);
    auto tokenizer = fm::make_tokenizer(*file);
    std::vector<int32_t> ids = tokenizer->encode("a b", true);
    if (ids.empty()) ids.push_back(0);
    static fm::ThreadPool pool(1);
    fm::Session session(*model, 8, 4, pool);
    session.eval(ids.data(), static_cast<int64_t>(std::min<size_t>(ids.size(), 8)));
  } catch (const std::exception&) {
  }
  return 0;
}
