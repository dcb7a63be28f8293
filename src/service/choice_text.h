#pragma once
// The text of one generated choice as tokens arrive: UTF-8-safe, with stop strings cut off. Text that could still
// turn out to be the start of a stop string is held back, so a client never receives part of a stop string.
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fm {

class ChoiceText {
 public:
  explicit ChoiceText(const std::vector<std::string>* stops = nullptr);
  // Appends a token's bytes; returns the text that may be released now. Sets stopped() when a stop string completes.
  std::string push(const std::string& piece);
  // End of generation: releases whatever was held back.
  std::string flush();
  bool stopped() const { return stopped_; }
  const std::string& text() const { return text_; }

 private:
  const std::vector<std::string>* stops_;
  size_t longest_stop_ = 0;
  Utf8StreamDecoder decoder_;
  std::string text_;
  size_t released_ = 0;
  bool stopped_ = false;
};

}  // namespace fm
