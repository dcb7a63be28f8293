// Reasoning models' output split into reasoning and answer, as it streams, and the grammar that waits for the
// reasoning to close before it constrains the answer.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "grammar/json_schema.h"
#include "grammar/token_trie.h"
#include "service/reasoning_text.h"
#include "service/structured_output.h"

namespace fm {
namespace {

// Feeds `pieces` one by one and returns (reasoning, answer) as they were released.
std::pair<std::string, std::string> split(bool starts_inside, const std::vector<std::string>& pieces) {
  ReasoningText r(starts_inside);
  std::string reasoning, content;
  for (const auto& p : pieces) {
    const auto out = r.push(p);
    reasoning += out.reasoning;
    content += out.content;
  }
  const auto last = r.flush();
  reasoning += last.reasoning;
  content += last.content;
  EXPECT_EQ(reasoning, r.reasoning());
  EXPECT_EQ(content, r.content());
  return {reasoning, content};
}

TEST(ReasoningText, SplitsThinkingFromTheAnswerWhateverThePieces) {
  EXPECT_EQ(split(false, {"<think>\nhmm", " ok</think>\n\nThe answer."}), std::make_pair(std::string("\nhmm ok"), std::string("The answer.")));
  EXPECT_EQ(split(false, {"<th", "ink>a", "</th", "ink>", " b"}), std::make_pair(std::string("a"), std::string("b")));
  EXPECT_EQ(split(false, {"\n", "<think>", "x</think>y"}), std::make_pair(std::string("x"), std::string("y")));
  // The template opened the block: everything up to </think> is reasoning.
  EXPECT_EQ(split(true, {"step 1, ", "step 2</think>", "\n42"}), std::make_pair(std::string("step 1, step 2"), std::string("42")));
  // Cut off while thinking: all of it is reasoning, a held-back partial tag included.
  EXPECT_EQ(split(true, {"still going </thi"}), std::make_pair(std::string("still going </thi"), std::string()));
  // No reasoning: a <think> that is not at the start is ordinary text; "<" alone is not held forever.
  EXPECT_EQ(split(false, {"Hello <think> there"}), std::make_pair(std::string(), std::string("Hello <think> there")));
  EXPECT_EQ(split(false, {"<", "b>"}), std::make_pair(std::string(), std::string("<b>")));
  EXPECT_EQ(split(false, {"<"}), std::make_pair(std::string(), std::string("<")));
}

TEST(ReasoningTracker, CountsTheTokensOfTheBlockTagsIncluded) {
  ReasoningTracker t(false);
  EXPECT_TRUE(t.push("<think>"));
  EXPECT_TRUE(t.push("a"));
  EXPECT_TRUE(t.push("</"));
  EXPECT_TRUE(t.push("think>"));
  EXPECT_TRUE(t.closed());
  EXPECT_FALSE(t.push("answer"));
  ReasoningTracker plain(false);
  EXPECT_FALSE(plain.push("Hi"));
  EXPECT_FALSE(plain.push("<think>"));  // not at the start: text
  ReasoningTracker opened(true);
  EXPECT_TRUE(opened.push("x"));
  EXPECT_TRUE(opened.push("</think>"));
  EXPECT_FALSE(opened.push("y"));
}

TEST(ReasoningText, PromptsThatOpenTheBlock) {
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<think>a</think>\n<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
}

class ThinkingGrammar : public ::testing::Test {
 protected:
  // Token ids: 0 <think>, 1 </think>, 2 "hm", 3 "\n\n", 4 "{", 5 "\"a\"", 6 ":", 7 "1", 8 "}", 9 EOS (no bytes).
  std::shared_ptr<const TokenTrie> trie = std::make_shared<const TokenTrie>(
      std::vector<std::string>{"<think>", "</think>", "hm", "\n\n", "{", "\"a\"", ":", "1", "}", ""});
  std::shared_ptr<const Grammar> grammar = compile_json_schema(nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false})"));
  const std::vector<int32_t> ends{9};

  std::vector<bool> allowed(TokenConstraint& c) {
    std::vector<float> logits(10, 1.f);
    EXPECT_TRUE(c.mask(logits.data(), 10, ends));
    std::vector<bool> out;
    for (float l : logits) out.push_back(!std::isinf(l));
    return out;
  }
};

TEST_F(ThinkingGrammar, TheGrammarStartsWhenTheReasoningCloses) {
  auto c = make_grammar_constraint(grammar, trie, ReasoningStart{false, 0});
  EXPECT_EQ(allowed(*c), (std::vector<bool>{true, false, false, false, true, false, false, false, false, false}));
  c->accept(0);  // <think>
  EXPECT_EQ(allowed(*c), (std::vector<bool>{true, true, true, true, true, true, true, true, true, false}));  // no end
  c->accept(2);
  c->accept(1);  // </think>
  EXPECT_EQ(allowed(*c), (std::vector<bool>{false, false, false, true, true, false, false, false, false, false}));
  c->accept(3);  // whitespace before the document
  for (int32_t t : {4, 5, 6, 7}) {
    EXPECT_FALSE(c->complete());
    c->accept(t);
  }
  EXPECT_EQ(allowed(*c), (std::vector<bool>{false, false, false, false, false, false, false, true, true, false}));
  c->accept(8);  // the document is whole: only the end (or one line break, not in this vocabulary) may follow
  EXPECT_EQ(allowed(*c), (std::vector<bool>{false, false, false, false, false, false, false, false, false, true}));
}

TEST_F(ThinkingGrammar, APromptThatOpenedTheBlockStartsInsideIt) {
  auto c = make_grammar_constraint(grammar, trie, ReasoningStart{true, 0});
  EXPECT_FALSE(allowed(*c)[9]);
  c->accept(1);
  EXPECT_TRUE(allowed(*c)[4]);
  // Without a reasoning token the grammar applies from the first token.
  auto direct = make_grammar_constraint(grammar, trie);
  EXPECT_EQ(allowed(*direct), (std::vector<bool>{false, false, false, false, true, false, false, false, false, false}));
}

}  // namespace
}  // namespace fm
