#include "service/choice_text.h"

namespace fm {

ChoiceText::ChoiceText(const std::vector<std::string>* stops) : stops_(stops) {
  if (stops_)
    for (const auto& s : *stops_) longest_stop_ = std::max(longest_stop_, s.size());
}

std::string ChoiceText::push(const std::string& piece) {
  if (stopped_) return {};
  text_ += decoder_.push(piece);
  if (stops_) {
    for (const std::string& s : *stops_) {
      if (s.empty()) continue;
      const size_t from = released_ > s.size() ? released_ - s.size() : 0;
      const size_t hit = text_.find(s, from);
      if (hit != std::string::npos) {
        stopped_ = true;
        text_.resize(hit);
        break;
      }
    }
  }
  size_t ready = text_.size();
  if (!stopped_ && longest_stop_ > 1) ready = text_.size() > longest_stop_ - 1 ? text_.size() - (longest_stop_ - 1) : 0;
  // Never split a UTF-8 character.
  while (ready > released_ && ready < text_.size() && (static_cast<unsigned char>(text_[ready]) & 0xC0) == 0x80) --ready;
  if (ready <= released_) return {};
  std::string out = text_.substr(released_, ready - released_);
  released_ = ready;
  return out;
}

std::string ChoiceText::flush() {
  if (!stopped_) text_ += decoder_.flush();
  std::string out = text_.size() > released_ ? text_.substr(released_) : std::string();
  released_ = text_.size();
  return out;
}

}  // namespace fm
