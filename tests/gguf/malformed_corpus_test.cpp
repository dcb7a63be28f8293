// A generated corpus of malformed GGUF files: truncations at every byte of the header and at every section
// boundary, and every structural field (counts, lengths, types, dimensions, offsets) overwritten with hostile
// values. Each must parse or fail with GgufError, and whatever parses must load and run or fail with an
// exception: never a crash, hang or huge allocation (CI runs this under ASan/UBSan).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/session.h"
#include "support/tiny_model.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

enum class Outcome { kRejected, kLoaded, kRejectedByModel };

Outcome try_everything(const std::vector<uint8_t>& bytes, ThreadPool& pool) {
  std::unique_ptr<GgufFile> file;
  try {
    file = GgufFile::parse(bytes.data(), bytes.size());
  } catch (const GgufError& e) {
    EXPECT_GT(std::strlen(e.what()), 10u);
    EXPECT_EQ(std::strchr(e.what(), '\n'), nullptr) << "error messages are one line";
    return Outcome::kRejected;
  }
  try {
    auto model = load_model(*file);
    auto tokenizer = make_tokenizer(*file);
    std::vector<int32_t> ids = tokenizer->encode("ab cd", true);
    Session session(*model, 16, 8, pool);
    session.eval(ids.data(), static_cast<int64_t>(ids.size()));
    return Outcome::kLoaded;
  } catch (const std::exception&) {
    return Outcome::kRejectedByModel;
  }
}

TEST(MalformedGguf, TheUncorruptedFileLoadsAndRuns) {
  ThreadPool pool(2);
  EXPECT_EQ(try_everything(test::build_tiny_llama(), pool), Outcome::kLoaded);
}

TEST(MalformedGguf, TruncationAtEveryHeaderByteAndSectionBoundary) {
  ThreadPool pool(1);
  std::vector<GgufFieldMark> marks;
  const std::vector<uint8_t> good = test::build_tiny_llama(&marks);
  auto header = GgufFile::parse(good.data(), good.size());
  std::vector<size_t> cuts;
  for (size_t n = 0; n < header->data_offset(); ++n) cuts.push_back(n);
  for (const auto& m : marks) cuts.push_back(m.offset);
  for (const auto& t : header->tensors()) {
    size_t start = header->data_offset() + t.offset;
    cuts.push_back(start + t.n_bytes - 1);
    cuts.push_back(start + 1);
  }
  size_t rejected = 0;
  for (size_t n : cuts) {
    if (n >= good.size()) continue;
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    Outcome o = try_everything(cut, pool);
    EXPECT_NE(o, Outcome::kLoaded) << "file truncated to " << n << " bytes was accepted";
    rejected += o == Outcome::kRejected;
  }
  EXPECT_GT(rejected, header->data_offset() - 1);
}

TEST(MalformedGguf, HostileValuesInEveryStructuralField) {
  ThreadPool pool(1);
  std::vector<GgufFieldMark> marks;
  const std::vector<uint8_t> good = test::build_tiny_llama(&marks);
  const uint64_t hostile[] = {0, 1, 2, 3, 7, 9, 13, 31, 255, 256, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                              0x100000000ull, 1ull << 40, 1ull << 62, std::numeric_limits<uint64_t>::max(),
                              std::numeric_limits<uint64_t>::max() / 2 + 1};
  size_t variants = 0, rejected = 0;
  for (const auto& m : marks) {
    if (m.size == 0) continue;
    uint64_t original = 0;
    std::memcpy(&original, good.data() + m.offset, m.size);
    std::vector<uint64_t> values(std::begin(hostile), std::end(hostile));
    values.push_back(original + 1);
    values.push_back(original - 1);
    values.push_back(original * 2);
    values.push_back(original ^ 0x80);
    for (uint64_t v : values) {
      if (m.size < 8 && v > (1ull << (8 * m.size)) - 1) v &= (1ull << (8 * m.size)) - 1;
      if (v == original) continue;
      std::vector<uint8_t> bad = good;
      std::memcpy(bad.data() + m.offset, &v, m.size);
      Outcome o = try_everything(bad, pool);
      ++variants;
      rejected += o != Outcome::kLoaded;
    }
  }
  // Most changes must be caught; a few are legitimately harmless (e.g. a different but valid dimension
  // value that the model then rejects, or a value type changed to one of the same size).
  EXPECT_GT(variants, 1000u);
  EXPECT_GT(rejected, variants * 9 / 10);
}

TEST(MalformedGguf, RandomByteFlipsInTheHeader) {
  ThreadPool pool(1);
  const std::vector<uint8_t> good = test::build_tiny_llama();
  const size_t header_end = GgufFile::parse(good.data(), good.size())->data_offset();
  uint64_t state = 12345;
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> bad = good;
    for (int k = 0; k < 3; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      bad[(state >> 33) % header_end] ^= static_cast<uint8_t>(1u << ((state >> 20) % 8));
    }
    try_everything(bad, pool);  // must not crash; either outcome is acceptable
  }
  SUCCEED();
}

}  // namespace
}  // namespace fm
