// Writes the fuzzer's seed corpus: the tiny llama GGUF used by the malformed-file tests.
#include <cstdio>
#include <fstream>

#include "support/tiny_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.gguf\n", argv[0]);
    return 2;
  }
  const std::vector<uint8_t> bytes = fm::test::build_tiny_llama();
  std::ofstream(argv[1], std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return 0;
}
