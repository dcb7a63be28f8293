// Workflow templates. Plain jq is checked against the `jq` command-line tool (the same jq 1.6 as libjq, run as a
// separate program): each case's program runs on its input both ways and must give the same first value. The
// template rules around jq (whole-value vs. interpolated strings, the jq 1.7 path syntax, $global/$counter) are
// checked against values written out here.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "workflow/jq_template.h"
#include "workflow/jq_worker.h"

namespace fm::workflow {
namespace {

// The first value `jq -c PROGRAM` prints for `input` (null when it prints none), or nullopt when jq fails.
std::optional<json> jq_cli(const std::string& program, const json& input, const json& vars = json::object()) {
  // Per process: ctest runs the tests of this file in parallel processes.
  const auto dir = std::filesystem::temp_directory_path() / ("fm_jq_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string in = (dir / "fm_jq_in.json").string(), prog = (dir / "fm_jq_prog.jq").string();
  std::ofstream(in) << input.dump();
  std::ofstream(prog) << program;
  std::string cmd = "jq -c";
  for (auto it = vars.begin(); it != vars.end(); ++it) {
    const std::string file = (dir / ("fm_jq_var_" + it.key() + ".json")).string();
    std::ofstream(file) << it.value().dump();
    cmd += " --argfile " + it.key() + " " + file;  // jq 1.6: --argfile binds the file's single value
  }
  cmd += " -f " + prog + " " + in + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return std::nullopt;
  if (out.empty()) return json(nullptr);
  return json::parse(out.substr(0, out.find('\n')));
}

struct Case {
  const char* program;
  const char* input;
};

const Case kCases[] = {
    {".a.b", R"({"a":{"b":[1,2,3]}})"},
    {".alternatives[0].message.text", R"({"alternatives":[{"message":{"role":"assistant","text":"hi"}}]})"},
    {"{x: 1, y: .a}", R"({"a":"b"})"},
    {"[.items[] | select(. > 2)]", R"({"items":[1,2,3,4]})"},
    {".items | map(. * 2) | add", R"({"items":[1,2,3]})"},
    {"\"p(\\(.n)) q\"", R"({"n":5})"},
    {"\"nested \\(\"in \\(.n + 1)\")\"", R"({"n":1})"},
    {".missing // \"default\"", R"({})"},
    {"if .n > 2 then \"big\" else \"small\" end", R"({"n":3})"},
    {".s | split(\" \") | length", R"({"s":"a b c"})"},
    {"to_entries | map(.key) | sort", R"({"b":1,"a":2})"},
    {".[] | .x", R"([{"x":1},{"x":2}])"},
    {"empty", R"({})"},
    {".n | tostring", R"({"n":1.5})"},
    {".u", R"({"u":"\u00e9\u4e2d\ud83d\ude00"})"},
    {"(.a | length) as $n | {n: $n}", R"({"a":[1,2]})"},
    {".a | @base64", R"({"a":"hello"})"},
    {"[limit(3; range(10))]", R"(null)"},
    {".x | ascii_downcase | test(\"^ab\")", R"({"x":"ABc"})"},
    {"reduce .[] as $i (0; . + $i)", R"([1,2,3,4])"},
    {"# a comment ( with a paren\n.a", R"({"a":1})"},
    {".a | keys_unsorted", R"({"a":{"z":1,"y":2}})"},
    {".big", R"({"big":12345678901234})"},
    {".f", R"({"f":0.1})"},
};

TEST(JqTemplate, PlainJqMatchesTheJqTool) {
  for (const Case& c : kCases) {
    const json input = json::parse(c.input);
    const std::optional<json> expected = jq_cli(c.program, input);
    ASSERT_TRUE(expected.has_value()) << "jq failed on " << c.program;
    EXPECT_EQ(jq_eval(c.program, input), *expected) << c.program;
    // The same program as a whole-value template gives the same value.
    EXPECT_EQ(render(std::string("\\(") + c.program + (std::string(c.program).find('#') != std::string::npos ? "\n)" : ")"), input), *expected)
        << c.program;
  }
}

TEST(JqTemplate, VariablesMatchTheJqTool) {
  const json input = json::parse(R"({"a":1})");
  const json vars = {{"global", {{"k", "v"}, {"n", 2}}}, {"counter", 3}};
  for (const char* program : {"$global.k", "$counter + .a + $global.n", "[$counter, $global]"}) {
    const std::optional<json> expected = jq_cli(program, input, vars);
    ASSERT_TRUE(expected.has_value()) << program;
    EXPECT_EQ(jq_eval(program, input, vars), *expected) << program;
  }
}

TEST(JqTemplate, ErrorsOfTheJqToolAreTemplateErrors) {
  const json input = json::parse(R"({"a":"x"})");
  for (const char* program : {".a | foo", ".a +", "error(\"boom\")", ".a | tonumber", "{(.a): 1} | .[0]"}) {
    EXPECT_FALSE(jq_cli(program, input).has_value()) << program << " fails in jq too";
    EXPECT_THROW(jq_eval(program, input), TemplateError) << program;
  }
}

TEST(JqTemplate, Jq17PathSyntax) {
  const json input = json::parse(R"({"alternatives":[{"message":{"text":"hi"}}],"m":{"k v":[10,20]}})");
  EXPECT_EQ(render("\\(.alternatives.[0].message.text)", input), "hi");
  EXPECT_EQ(render("\\(.m.[\"k v\"].[1])", input), 20);
  EXPECT_EQ(jq17_compat(".a.[0].b"), ".a[0].b");
  EXPECT_EQ(jq17_compat(".[0]"), ".[0]");
  EXPECT_EQ(jq17_compat(".a | .[0]"), ".a | .[0]");
  EXPECT_EQ(jq17_compat("\"x.[0]\" + .a.[1]"), "\"x.[0]\" + .a[1]") << "string literals are left alone";
  EXPECT_EQ(jq17_compat("(.a).[0]"), "(.a)[0]");
  // The rewritten programs agree with jq 1.6 on the 1.6 spelling.
  EXPECT_EQ(jq_eval(".m.[\"k v\"].[0]", input), *jq_cli(".m[\"k v\"][0]", input));
}

TEST(JqTemplate, WholeValueAndInterpolatedStrings) {
  const json input = json::parse(R"({"n":3,"s":"txt","o":{"k":[1,2]},"z":null})");
  EXPECT_EQ(render("\\(.o)", input), input["o"]) << "exactly one \\(...) yields the JSON value";
  EXPECT_EQ(render("  \\(.n)\n", input), 3) << "surrounding whitespace is trimmed";
  EXPECT_EQ(render("n=\\(.n)", input), "n=3");
  EXPECT_EQ(render("\\(.s) and \\(.o)", input), "txt and {\"k\":[1,2]}") << "strings as they are, others as JSON";
  EXPECT_EQ(render("\\(.s)\\(.n)", input), "txt3");
  EXPECT_EQ(render("[\\(.z)]", input), "[null]");
  EXPECT_EQ(render("no template (.n)", input), "no template (.n)") << "literal without \\(";
  EXPECT_EQ(render("a \\\\ b", input), "a \\\\ b");
  const json nested = {{"text", "v=\\(.n)"}, {"list", {"\\(.s)", 7, true}}, {"keep", nullptr}};
  EXPECT_EQ(render(nested, input), json::parse(R"({"text":"v=3","list":["txt",7,true],"keep":null})"));
  EXPECT_EQ(render("\\({x: 1, y: .o.k[1]})", input), json::parse(R"({"x":1,"y":2})"));
  EXPECT_EQ(render("\\(\"a(b\")", input), "a(b") << "parentheses inside jq strings do not close the template";
  EXPECT_EQ(render("\\(.n | tostring | \"(\\(.))\")", input), "(3)");
}

TEST(JqTemplate, MalformedTemplatesAreReported) {
  const json input = json::object();
  EXPECT_THROW(render("\\(.a", input), TemplateError);
  EXPECT_THROW(render("\\(\"open)", input), TemplateError);
  EXPECT_NE(check_template("x \\(.a |)"), "");
  EXPECT_NE(check_template("\\(.a"), "");
  EXPECT_EQ(check_template("\\($global.x + $counter)"), "") << "$global and $counter are known names";
  EXPECT_EQ(check_template("plain"), "");
}

TEST(JqTemplate, AProgramThatNeverEndsIsStoppedAtTheTimeLimit) {
  const int64_t before = jq_time_limit_ms();
  set_jq_time_limit_ms(300);
  const auto start = std::chrono::steady_clock::now();
  for (const char* forever : {"\\([range(1e12)] | length)", "\\(def f: f; f)", "x\\(last(repeat(1)))"}) {
    try {
      render(forever, json::object());
      ADD_FAILURE() << forever << " returned";
    } catch (const TemplateError& e) {
      EXPECT_NE(std::string(e.what()).find("ran longer than 300 ms"), std::string::npos) << e.what();
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  set_jq_time_limit_ms(before);
  EXPECT_EQ(render("\\(.a + 1)", json{{"a", 1}}), 2) << "the helpers after a kill still answer";
}

TEST(JqTemplate, ConcurrentEvaluationsEachGetTheirOwnAnswer) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 50; ++i)
        if (render("\\(.t * 1000 + .i)", json{{"t", t}, {"i", i}}) != t * 1000 + i) ++wrong;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace fm::workflow
