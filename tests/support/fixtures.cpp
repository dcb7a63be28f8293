#include "support/fixtures.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fm::test {

std::string fixtures_dir() { return FMSERVE_FIXTURES_DIR; }
std::string fixture_path(const std::string& relative) { return fixtures_dir() + "/" + relative; }
std::string test_data_path(const std::string& relative) { return std::string(FMSERVE_TESTS_DIR) + "/" + relative; }

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read fixture '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const nlohmann::json& manifest() {
  static const nlohmann::json m = nlohmann::json::parse(read_text_file(fixture_path("MANIFEST.json")));
  return m;
}

std::vector<float> read_f32_file(const std::string& path) {
  std::string bytes = read_text_file(path);
  if (bytes.size() % 4 != 0) throw std::runtime_error("'" + path + "' is not a whole number of f32 values");
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

DiffStats diff_stats(const std::vector<float>& got, const std::vector<float>& want) {
  DiffStats d;
  double sq = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - want[i]);
    d.max_abs = std::max(d.max_abs, e);
    sq += e * e;
  }
  if (!got.empty()) d.rms = std::sqrt(sq / static_cast<double>(got.size()));
  return d;
}

}  // namespace fm::test
