#include "tokenizer/tokenizer.h"

#include <stdexcept>

#include "gguf/gguf_file.h"
#include "tokenizer/spm_tokenizer.h"

namespace fm {

std::unique_ptr<Tokenizer> make_tokenizer(const GgufFile& file) {
  Vocab vocab = Vocab::from_gguf(file);
  if (vocab.model() == "llama") return std::make_unique<SpmTokenizer>(std::move(vocab));
  throw std::runtime_error("tokenizer model '" + vocab.model() + "' is not supported yet");
}

namespace {
// Bytes a sequence starting with this byte needs, or 0 for a continuation byte.
size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xC0) == 0x80) return 0;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;  // invalid lead byte: pass through
}
}  // namespace

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  pending_.append(bytes);
  // Find the start of the last sequence; hold it back only if it is incomplete.
  size_t cut = pending_.size();
  for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    size_t pos = pending_.size() - back;
    size_t need = sequence_length(static_cast<unsigned char>(pending_[pos]));
    if (need == 0) continue;
    if (need > back) cut = pos;
    break;
  }
  std::string ready = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return ready;
}

std::string Utf8StreamDecoder::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace fm
