// Tool calls per template family: which syntax a real chat template uses, calls parsed out of model text, text held
// back while it may begin a call, and the grammar that forces a call.
#include <gtest/gtest.h>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "service/structured_output.h"
#include "service/service_error.h"
#include "service/tool_calls.h"
#include "grammar/token_trie.h"

#include <cmath>
#include "support/fixtures.h"

namespace fm {
namespace {

using ojson = nlohmann::ordered_json;

ToolSyntax syntax_of_fixture(const std::string& name) {
  return tool_syntax_of(test::read_text_file(test::fixture_path("chat-templates/" + name + ".jinja")));
}

TEST(ToolCalls, TheSyntaxComesFromTheTemplate) {
  EXPECT_EQ(syntax_of_fixture("Qwen-Qwen2.5-7B-Instruct"), ToolSyntax::kHermes);
  EXPECT_EQ(syntax_of_fixture("Qwen-Qwen3-0.6B"), ToolSyntax::kHermes);
  EXPECT_EQ(syntax_of_fixture("Qwen-QwQ-32B"), ToolSyntax::kHermes);
  EXPECT_EQ(syntax_of_fixture("NousResearch-Hermes-3-Llama-3.1-8B-tool_use"), ToolSyntax::kHermes);
  EXPECT_EQ(syntax_of_fixture("meta-llama-Llama-3.1-8B-Instruct"), ToolSyntax::kLlama3);
  EXPECT_EQ(syntax_of_fixture("meta-llama-Llama-3.2-3B-Instruct"), ToolSyntax::kLlama3);
  EXPECT_EQ(syntax_of_fixture("mistralai-Mistral-Nemo-Instruct-2407"), ToolSyntax::kMistral);
  EXPECT_EQ(syntax_of_fixture("fireworks-ai-llama-3-firefunction-v2"), ToolSyntax::kFireFunction);
  EXPECT_EQ(syntax_of_fixture("meetkai-functionary-medium-v3.1"), ToolSyntax::kFunctionary);
  EXPECT_EQ(syntax_of_fixture("meetkai-functionary-medium-v3.2"), ToolSyntax::kNone);  // >>>recipient: not served
  EXPECT_EQ(syntax_of_fixture("google-gemma-2-2b-it"), ToolSyntax::kNone);
}

TEST(ToolCalls, CallsAreParsedPerFamily) {
  auto hermes = parse_tool_calls(ToolSyntax::kHermes,
      "Let me check.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"time\", \"arguments\": {}}\n</tool_call>");
  ASSERT_EQ(hermes.calls.size(), 2u);
  EXPECT_EQ(hermes.content, "Let me check.");
  EXPECT_EQ(hermes.calls[0].name, "weather");
  EXPECT_EQ(ojson::parse(hermes.calls[0].arguments), ojson::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(hermes.calls[0].id.rfind("call_", 0), 0u);
  EXPECT_NE(hermes.calls[0].id, hermes.calls[1].id);

  auto llama = parse_tool_calls(ToolSyntax::kLlama3, R"({"name": "weather", "parameters": {"city": "Oslo"}})");
  ASSERT_EQ(llama.calls.size(), 1u);
  EXPECT_EQ(llama.content, "");
  auto mistral = parse_tool_calls(ToolSyntax::kMistral, R"([TOOL_CALLS][{"name": "weather", "arguments": {"city": "Oslo"}}])");
  ASSERT_EQ(mistral.calls.size(), 1u);
  EXPECT_EQ(mistral.calls[0].name, "weather");

  auto fire = parse_tool_calls(ToolSyntax::kFireFunction,
      R"(Checking. functools[{"name": "weather", "arguments": {"city": "Oslo"}}, {"name": "time", "arguments": {}}])");
  ASSERT_EQ(fire.calls.size(), 2u);
  EXPECT_EQ(fire.content, "Checking.");
  EXPECT_EQ(fire.calls[1].name, "time");
  auto functionary = parse_tool_calls(ToolSyntax::kFunctionary,
      R"(On it. <function=weather>{"city": "Oslo"}</function><function=time>{}</function>)");
  ASSERT_EQ(functionary.calls.size(), 2u);
  EXPECT_EQ(functionary.content, "On it.");
  EXPECT_EQ(functionary.calls[0].name, "weather");
  EXPECT_EQ(ojson::parse(functionary.calls[0].arguments), ojson::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(functionary.calls[1].name, "time");
  EXPECT_TRUE(parse_tool_calls(ToolSyntax::kFunctionary, "<function=weather>{oops</function>").calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolSyntax::kFireFunction, "I like functools.partial").calls.empty());

  // Not calls: plain text, a malformed call, an object that is not a call.
  EXPECT_TRUE(parse_tool_calls(ToolSyntax::kHermes, "Sunny.").calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolSyntax::kHermes, "<tool_call>{\"name\": 3}</tool_call>").calls.empty());
  EXPECT_EQ(parse_tool_calls(ToolSyntax::kHermes, "<tool_call>{oops").content, "<tool_call>{oops");
  EXPECT_TRUE(parse_tool_calls(ToolSyntax::kLlama3, R"({"city": "Oslo"})").calls.empty());
}

TEST(ToolCalls, StreamedTextThatMayBeginACallIsHeldBack) {
  EXPECT_EQ(releasable_content(ToolSyntax::kHermes, "Hello"), 5u);
  EXPECT_EQ(releasable_content(ToolSyntax::kHermes, "Hello <tool"), 6u);
  EXPECT_EQ(releasable_content(ToolSyntax::kHermes, "Hi <tool_call>{\"name\""), 3u);
  EXPECT_EQ(releasable_content(ToolSyntax::kLlama3, " {\"name\""), 0u);
  EXPECT_EQ(releasable_content(ToolSyntax::kLlama3, "Sure"), 4u);
  EXPECT_EQ(releasable_content(ToolSyntax::kNone, "<tool_call>"), 11u);
  EXPECT_EQ(releasable_content(ToolSyntax::kFunctionary, "Sure <func"), 5u);
  EXPECT_EQ(releasable_content(ToolSyntax::kFireFunction, "Ok functools["), 3u);
}

TEST(ToolCalls, AForcedCallIsWellFormedAndMatchesTheParameters) {
  const std::vector<ToolSpec> tools = {
      {"weather", "", ojson::parse(R"({"type":"object","properties":{"city":{"type":"string","maxLength":20}},"required":["city"]})"), false},
      {"time", "", ojson(), false}};
  const ForcedCall any = forced_call(ToolSyntax::kHermes, tools, "");
  auto g = compile_json_schema(any.schema, any.prefix, any.suffix);
  auto accepts = [&](const std::shared_ptr<const Grammar>& grammar, const std::string& text) {
    Matcher m(grammar);
    return m.advance(text) && m.accepting();
  };
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"));
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\":\"time\",\"arguments\":{}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"weather\", \"arguments\": {}}\n</tool_call>"));  // city required
  EXPECT_FALSE(accepts(g, "{\"name\": \"time\", \"arguments\": {}}"));
  const ForcedCall named = forced_call(ToolSyntax::kLlama3, tools, "time");
  auto g2 = compile_json_schema(named.schema, named.prefix, named.suffix);
  EXPECT_TRUE(accepts(g2, "{\"name\": \"time\", \"parameters\": {}}"));
  EXPECT_FALSE(accepts(g2, "{\"name\": \"weather\", \"parameters\": {\"city\": \"x\"}}"));

  const ForcedCall fire = forced_call(ToolSyntax::kFireFunction, tools, "");
  auto g3 = compile_json_schema(fire.schema, fire.prefix, fire.suffix);
  EXPECT_TRUE(accepts(g3, "functools[{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}]"));
  EXPECT_FALSE(accepts(g3, "functools[{\"name\": \"weather\", \"arguments\": {}}]"));
  // Functionary: the name is text before the arguments, so only a call of one tool can be forced.
  const ForcedCall weather = forced_call(ToolSyntax::kFunctionary, tools, "weather");
  auto g4 = compile_json_schema(weather.schema, weather.prefix, weather.suffix);
  EXPECT_TRUE(accepts(g4, "<function=weather>{\"city\": \"Oslo\"}</function>"));
  EXPECT_FALSE(accepts(g4, "<function=weather>{}</function>"));
  EXPECT_FALSE(accepts(g4, "<function=time>{}</function>"));
  EXPECT_THROW(forced_call(ToolSyntax::kFunctionary, tools, ""), ServiceError);
  const TriggeredCall one = triggered_call(ToolSyntax::kFunctionary, {tools[0]});
  EXPECT_EQ(one.trigger, "<function=");
  EXPECT_TRUE(accepts(compile_json_schema(one.call.schema, one.call.prefix, one.call.suffix), "weather>{\"city\": \"x\"}</function>"));
  EXPECT_TRUE(triggered_call(ToolSyntax::kFunctionary, tools).trigger.empty());  // several tools: parsed only
}

}  // namespace
}  // namespace fm

namespace fm {
namespace {

TEST(ToolCalls, WithToolChoiceAutoACallTheModelOpensIsHeldToTheSchemas) {
  // Ids: 0 "Hi", 1 <tool_call>, 2 "\n", 3 the call object, 4 "\n</tool_call>", 5 "x", 6 end (no bytes).
  auto trie = std::make_shared<const TokenTrie>(std::vector<std::string>{
      "Hi", "<tool_call>", "\n", "{\"name\": \"time\", \"arguments\": {}}", "\n</tool_call>", "x", ""});
  const TriggeredCall t = triggered_call(ToolSyntax::kHermes, {{"time", "", ojson(), false}});
  EXPECT_EQ(t.trigger, "<tool_call>");
  auto c = make_triggered_constraint(compile_json_schema(t.call.schema, t.call.prefix, t.call.suffix), trie, t.trigger);
  const std::vector<int32_t> ends{6};
  auto allowed = [&] {
    std::vector<float> logits(7, 0.f);
    EXPECT_TRUE(c->mask(logits.data(), 7, ends));
    std::vector<bool> out;
    for (float l : logits) out.push_back(!std::isinf(l));
    return out;
  };
  EXPECT_EQ(allowed(), (std::vector<bool>{true, true, true, true, true, true, true}));  // free text
  c->accept(0);
  c->accept(1);  // the call opens: only its grammar from here
  EXPECT_EQ(allowed(), (std::vector<bool>{false, false, true, false, false, false, false}));
  c->accept(2);
  EXPECT_EQ(allowed(), (std::vector<bool>{false, false, false, true, false, false, false}));
  c->accept(3);  // then the closing marker ("\n" alone begins it)
  EXPECT_EQ(allowed(), (std::vector<bool>{false, false, true, false, true, false, false}));
  c->accept(4);  // the call is whole: free text again
  EXPECT_EQ(allowed(), (std::vector<bool>{true, true, true, true, true, true, true}));
  EXPECT_FALSE(c->complete());
}

}  // namespace
}  // namespace fm
