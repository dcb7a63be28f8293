// The grammar engine on its own: schemas compiled and matched byte by byte, masks over real vocabularies checked
// token by token against the matcher, number bounds, and hostile schemas refused quickly.
#include <gtest/gtest.h>

#include <random>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"
#include "support/fixtures.h"
#include "tokenizer/hf_tokenizer.h"

namespace fm {
namespace {

using ojson = nlohmann::ordered_json;

bool accepts(const std::shared_ptr<const Grammar>& g, const std::string& doc) {
  Matcher m(g);
  return m.advance(doc) && m.accepting();
}

std::shared_ptr<const Grammar> schema(const char* text) { return compile_json_schema(ojson::parse(text)); }

TEST(JsonSchemaGrammar, ObjectsWithRequiredOptionalAndAdditionalProperties) {
  auto g = schema(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],
                       "additionalProperties":false})");
  EXPECT_TRUE(accepts(g, R"({"a":1})"));
  EXPECT_TRUE(accepts(g, R"({"a": -12, "b": "x"})"));
  EXPECT_TRUE(accepts(g, "{\n  \"a\": 1,\n  \"b\": \"\\u00e9\\n\"\n}"));
  EXPECT_TRUE(accepts(g, "{\"a\":1}\n"));
  EXPECT_FALSE(accepts(g, R"({"b":"x"})"));        // a is required
  EXPECT_FALSE(accepts(g, R"({"a":1,"c":2})"));    // no additional properties
  EXPECT_FALSE(accepts(g, R"({"a":1.5})"));        // not an integer
  EXPECT_FALSE(accepts(g, R"({"a":01})"));         // not JSON
  EXPECT_FALSE(accepts(g, R"({"a":1})" "  \n"));   // whitespace after the document is bounded
  EXPECT_FALSE(accepts(g, std::string("{") + std::string(70, ' ') + "\"a\":1}"));
  // Indentation is bounded by depth: four columns per level.
  EXPECT_TRUE(accepts(g, "{\n    \"a\": 1\n}"));
  EXPECT_TRUE(accepts(g, "{\n\t\"a\": 1\n}"));
  EXPECT_FALSE(accepts(g, "{\n      \"a\": 1\n}"));

  auto open = schema(R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  EXPECT_TRUE(accepts(open, R"({})"));
  EXPECT_TRUE(accepts(open, R"({"a":1,"zz":[1,{"q":null}]})"));
  EXPECT_TRUE(accepts(open, R"({"other":true})"));
  EXPECT_FALSE(accepts(open, R"({"a":1,"a":"x"})"));  // a declared key cannot come back as an extra one
}

TEST(JsonSchemaGrammar, PropertyCountsArraysAndStrings) {
  auto g = schema(R"({"type":"object","minProperties":2,"maxProperties":3,"additionalProperties":{"type":"integer"}})");
  EXPECT_FALSE(accepts(g, R"({"a":1})"));
  EXPECT_TRUE(accepts(g, R"({"a":1,"b":2})"));
  EXPECT_TRUE(accepts(g, R"({"a":1,"b":2,"c":3})"));
  EXPECT_FALSE(accepts(g, R"({"a":1,"b":2,"c":3,"d":4})"));

  auto arr = schema(R"({"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"number"},"minItems":2,"maxItems":3})");
  EXPECT_FALSE(accepts(arr, R"(["x"])"));
  EXPECT_TRUE(accepts(arr, R"(["x", 1.5e3])"));
  EXPECT_TRUE(accepts(arr, R"(["x",1,2])"));
  EXPECT_FALSE(accepts(arr, R"(["x",1,2,3])"));
  EXPECT_FALSE(accepts(arr, R"([1,2])"));

  auto str = schema(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_FALSE(accepts(str, R"("a")"));
  EXPECT_TRUE(accepts(str, R"("ab")"));
  EXPECT_TRUE(accepts(str, "\"\xD0\xB6\xD0\xB6\xD0\xB6\""));  // three characters, six bytes
  EXPECT_TRUE(accepts(str, R"("a\"b")"));
  EXPECT_FALSE(accepts(str, R"("abcd")"));
}

TEST(JsonSchemaGrammar, EnumsConstAnyOfOneOfAllOfAndRefs) {
  auto e = schema(R"({"enum":["red","green",3,null,{"k":[1]}]})");
  for (const char* ok : {R"("red")", R"("green")", "3", "null", R"({"k":[1]})"}) EXPECT_TRUE(accepts(e, ok)) << ok;
  for (const char* bad : {R"("gree")", R"("blue")", "4", R"({"k":[2]})"}) EXPECT_FALSE(accepts(e, bad)) << bad;

  auto any = schema(R"({"anyOf":[{"type":"string","maxLength":1},{"type":"integer","minimum":10}]})");
  EXPECT_TRUE(accepts(any, R"("a")"));
  EXPECT_TRUE(accepts(any, "12"));
  EXPECT_FALSE(accepts(any, "9"));

  auto one = schema(R"({"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind"]},
                                  {"type":"object","properties":{"kind":{"const":"b"}},"required":["kind"]}]})");
  EXPECT_TRUE(accepts(one, R"({"kind":"a","x":1})"));
  EXPECT_TRUE(accepts(one, R"({"kind":"b"})"));
  EXPECT_THROW(schema(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})"), GrammarError);

  auto all = schema(R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                                  {"properties":{"b":{"type":"boolean"}},"required":["b"]}]})");
  EXPECT_TRUE(accepts(all, R"({"a":1,"b":true})"));
  EXPECT_FALSE(accepts(all, R"({"a":1})"));

  auto tree = schema(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
                          "v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
                          "required":["v"],"additionalProperties":false}}})");
  EXPECT_TRUE(accepts(tree, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4,"kids":[]}]}]})"));
  EXPECT_FALSE(accepts(tree, R"({"v":1,"kids":[{"w":2}]})"));
}

TEST(JsonSchemaGrammar, PatternsAndFormats) {
  auto p = schema(R"({"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}$"})");
  EXPECT_TRUE(accepts(p, R"("AB-123")"));
  EXPECT_TRUE(accepts(p, R"("AB-1234")"));
  EXPECT_FALSE(accepts(p, R"("AB-12")"));
  EXPECT_FALSE(accepts(p, R"("ab-123")"));
  auto unanchored = schema(R"({"type":"string","pattern":"cat"})");
  EXPECT_TRUE(accepts(unanchored, R"("a cat here")"));
  EXPECT_FALSE(accepts(unanchored, R"("a dog")"));
  auto quote = schema(R"({"type":"string","pattern":"^a\"b$"})");
  EXPECT_TRUE(accepts(quote, R"("a\"b")"));

  auto date = schema(R"({"type":"string","format":"date"})");
  EXPECT_TRUE(accepts(date, R"("2024-02-29")"));
  EXPECT_FALSE(accepts(date, R"("2023-02-29")"));
  EXPECT_FALSE(accepts(date, R"("2023-04-31")"));
  auto dt = schema(R"({"type":"string","format":"date-time"})");
  EXPECT_TRUE(accepts(dt, R"("2025-06-01T12:30:00Z")"));
  EXPECT_TRUE(accepts(dt, R"("2025-06-01T12:30:00.250+03:00")"));
  EXPECT_FALSE(accepts(dt, R"("2025-06-01T24:30:00Z")"));
  auto ip = schema(R"({"type":"string","format":"ipv4"})");
  EXPECT_TRUE(accepts(ip, R"("192.168.0.255")"));
  EXPECT_FALSE(accepts(ip, R"("256.1.1.1")"));
  auto uuid = schema(R"({"type":"string","format":"uuid"})");
  EXPECT_TRUE(accepts(uuid, R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_FALSE(accepts(uuid, R"("123e4567-e89b-12d3-a456-42661417400")"));
  auto email = schema(R"({"type":"string","format":"email"})");
  EXPECT_TRUE(accepts(email, R"("first.last@example.co.uk")"));
  EXPECT_FALSE(accepts(email, R"("first@")"));

  for (const char* bad : {R"({"type":"string","pattern":"(?=a)b"})", R"({"type":"string","pattern":"(a)\\1"})",
                          R"({"type":"string","pattern":"\\bword"})", R"({"type":"string","pattern":"[z-a]"})",
                          R"({"type":"string","pattern":"(a"})", R"({"type":"string","format":"hostname"})"})
    EXPECT_THROW(schema(bad), GrammarError) << bad;
}

TEST(JsonSchemaGrammar, NumberBoundsAreEnforcedWhileWriting) {
  auto g = schema(R"({"type":"number","minimum":-1.5,"exclusiveMaximum":2})");
  for (const char* ok : {"-1.5", "-1", "0", "1.999", "0.25"}) EXPECT_TRUE(accepts(g, ok)) << ok;
  for (const char* bad : {"-1.51", "2", "2.0", "10", "-2"}) EXPECT_FALSE(accepts(g, bad)) << bad;
  auto i = schema(R"({"type":"integer","minimum":10,"maximum":250})");
  for (const char* ok : {"10", "99", "250"}) EXPECT_TRUE(accepts(i, ok)) << ok;
  for (const char* bad : {"9", "251", "1000", "-10", "10.5"}) EXPECT_FALSE(accepts(i, bad)) << bad;
  // A prefix that can no longer reach the range is refused at once, not at the end.
  Matcher m(i);
  EXPECT_TRUE(m.advance("2"));
  EXPECT_TRUE(m.advance("5"));
  EXPECT_FALSE(m.advance("1"));
  EXPECT_TRUE(m.advance("0"));
  EXPECT_TRUE(m.accepting());
}

TEST(JsonSchemaGrammar, UnsupportedKeywordsAreNamed) {
  for (const char* kw : {"uniqueItems", "multipleOf", "patternProperties", "not", "if", "contains", "propertyNames"}) {
    const std::string text = std::string(R"({"type":"object","properties":{"x":{")") + kw + R"(":true}}})";
    try {
      compile_json_schema(ojson::parse(text));
      ADD_FAILURE() << kw << " was accepted";
    } catch (const GrammarError& e) {
      EXPECT_NE(std::string(e.what()).find(kw), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("#/properties/x"), std::string::npos) << e.what();
    }
  }
}

// Refused by the compiler's limits before any large grammar is built (bench/grammar_bench.mjs times the refusals).
TEST(JsonSchemaGrammar, HostileSchemasAreRefused) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += R"({"type":"array","items":)";
  deep += "{}";
  for (int i = 0; i < 10000; ++i) deep += "}";
  std::vector<std::string> cases = {
      deep,
      R"({"type":"string","maxLength":100000000})",
      R"({"type":"array","minItems":100000})",
      R"({"$ref":"#"})",
      R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}})",
      R"({"type":"string","pattern":"(a*)*b"})",
  };
  ojson big_enum = {{"enum", ojson::array()}};
  for (int i = 0; i < 100000; ++i) big_enum["enum"].push_back("value number " + std::to_string(i * 7919));
  cases.push_back(big_enum.dump());
  for (const auto& text : cases) {
    bool refused = false;
    try {
      const auto parsed = ojson::parse(text, nullptr, true, false);
      compile_json_schema(parsed);
    } catch (const GrammarError&) {
      refused = true;
    }
    EXPECT_TRUE(refused) << text.substr(0, 80);
  }
}

TEST(JsonSchemaGrammar, NestedRepetitionDoesNotBlowUp) {
  // Counters of unbounded repeats stop at their minimum, so a long run revisits a handful of states.
  auto g = schema(R"({"type":"string","pattern":"^(a+)+(b|a{2,5})*$"})");
  Matcher m(g);
  EXPECT_TRUE(m.advance("\"" + std::string(5000, 'a')));
  EXPECT_LT(m.state_count(), 64u);
  EXPECT_TRUE(m.advance("\""));
  EXPECT_TRUE(m.accepting());
  EXPECT_FALSE(accepts(g, "\"" + std::string(5000, 'a') + "c\""));
}

// Every token the mask allows is one the matcher accepts, and every token it accepts is in the mask.
void check_masks_against_matcher(const std::string& vocab_file) {
  auto tokenizer = load_tokenizer(test::fixture_path(vocab_file));
  const TokenTrie trie = TokenTrie::from_tokenizer(*tokenizer);
  auto g = schema(R"({"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":999},
                       "name":{"type":"string","maxLength":12},"tags":{"type":"array","items":{"enum":["a b","c"]}},
                       "when":{"type":"string","format":"date"}},"required":["id","name"]})");
  const std::string doc = R"({"id": 42, "name": "Zoë \"Q\"", "tags": ["a b", "c"], "when": "2024-01-31"})";
  const std::vector<int32_t> ids = tokenize_document(*tokenizer, doc);
  Matcher m(g);
  TokenMask mask(trie);
  std::mt19937 rng(7);
  for (size_t step = 0; step < ids.size(); ++step) {
    m.fill_mask(mask);
    ASSERT_TRUE(mask.allows(ids[step])) << "token " << step;
    // Compare with the matcher on a sample of the vocabulary (every token at the first steps).
    const int32_t stride = step < 3 ? 1 : 17;
    for (int32_t t = static_cast<int32_t>(rng() % static_cast<uint32_t>(stride)); t < trie.vocab_size(); t += stride) {
      const bool in_mask = mask.allows(t);
      const bool by_matcher = !trie.bytes(t).empty() && m.can_advance(trie.bytes(t));
      ASSERT_EQ(in_mask, by_matcher) << "step " << step << " token " << t << " '" << trie.bytes(t) << "'";
    }
    ASSERT_TRUE(m.advance(trie.bytes(ids[step])));
  }
  EXPECT_TRUE(m.accepting());
}

TEST(TokenMask, AgreesWithTheMatcherOnAByteLevelBpeVocabulary) { check_masks_against_matcher("vocab/ggml-vocab-deepseek-llm.gguf"); }
TEST(TokenMask, AgreesWithTheMatcherOnASentencePieceVocabulary) { check_masks_against_matcher("vocab/ggml-vocab-llama-spm.gguf"); }

TEST(TokenTrie, HoldsEveryTokenWithBytesOnce) {
  const TokenTrie trie({"ab", "a", "", "abc", "b", "ab"});
  std::vector<int32_t> ids = trie.token_ids();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 1, 3, 4, 5}));
  // Depth-first order: a, ab (tokens 0 and 5), abc, b.
  const auto& n = trie.nodes();
  ASSERT_EQ(n.size(), 5u);
  EXPECT_EQ(n[1].byte, 'a');
  EXPECT_EQ(n[1].end, 4u);
  EXPECT_EQ(n[2].tokens_end - n[2].tokens_begin, 2u);
  EXPECT_EQ(n[4].byte, 'b');
}

}  // namespace
}  // namespace fm
