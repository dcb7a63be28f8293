#include "service/reasoning_text.h"

#include <algorithm>

namespace fm {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

bool prompt_opens_reasoning(std::string_view prompt) {
  const size_t open = prompt.rfind(kThinkOpen);
  if (open == std::string_view::npos) return false;
  const size_t close = prompt.rfind(kThinkClose);
  return close == std::string_view::npos || close < open;
}

void ReasoningText::emit(Pieces& out, bool reasoning, std::string_view text) {
  if (text.empty()) return;
  (reasoning ? out.reasoning : out.content).append(text);
  (reasoning ? reasoning_ : content_).append(text);
}

ReasoningText::Pieces ReasoningText::push(std::string_view text) {
  Pieces out;
  pending_.append(text);
  for (;;) {
    std::string_view p = pending_;
    if (state_ == State::kStart) {
      const size_t first = p.find_first_not_of(" \n\r\t");
      if (first == std::string_view::npos) return out;  // whitespace only: still undecided
      const std::string_view rest = p.substr(first);
      if (rest.substr(0, kThinkOpen.size()) == kThinkOpen) {
        state_ = State::kThinking;
        pending_.erase(0, first + kThinkOpen.size());
        continue;
      }
      if (kThinkOpen.substr(0, rest.size()) == rest) return out;  // may still become <think>
      state_ = State::kAnswer;
      continue;
    }
    if (state_ == State::kThinking) {
      const size_t close = p.find(kThinkClose);
      if (close != std::string_view::npos) {
        emit(out, true, p.substr(0, close));
        pending_.erase(0, close + kThinkClose.size());
        state_ = State::kAnswerStart;
        continue;
      }
      const size_t keep = partial_tag(p, kThinkClose);
      emit(out, true, p.substr(0, p.size() - keep));
      pending_.erase(0, p.size() - keep);
      return out;
    }
    if (state_ == State::kAnswerStart) {
      size_t n = 0;
      while (n < p.size() && is_space(p[n])) ++n;
      pending_.erase(0, n);
      if (pending_.empty()) return out;
      state_ = State::kAnswer;
      continue;
    }
    emit(out, false, p);
    pending_.clear();
    return out;
  }
}

ReasoningText::Pieces ReasoningText::flush() {
  Pieces out;
  if (state_ == State::kThinking) emit(out, true, pending_);
  else if (state_ != State::kAnswerStart) emit(out, false, pending_);
  pending_.clear();
  return out;
}

bool ReasoningTracker::push(std::string_view piece) {
  const bool was_inside = inside_;
  tail_.append(piece);
  if (!inside_ && !closed_ && !any_text_) {
    const size_t first = tail_.find_first_not_of(" \n\r\t");
    if (first != std::string::npos) {
      const std::string_view rest = std::string_view(tail_).substr(first);
      if (rest.substr(0, kThinkOpen.size()) == kThinkOpen) {
        inside_ = true;
        tail_.erase(0, first + kThinkOpen.size());
      } else if (kThinkOpen.substr(0, std::min(rest.size(), kThinkOpen.size())) != rest.substr(0, std::min(rest.size(), kThinkOpen.size()))) {
        any_text_ = true;
      }
    }
  }
  bool closed_now = false;
  if (inside_) {
    const size_t close = tail_.find(kThinkClose);
    if (close != std::string::npos) {
      inside_ = false;
      closed_ = true;
      closed_now = true;
      tail_.erase(0, close + kThinkClose.size());
    }
  }
  if (tail_.size() > 64) tail_.erase(0, tail_.size() - 16);
  return was_inside || inside_ || closed_now;
}

}  // namespace fm
