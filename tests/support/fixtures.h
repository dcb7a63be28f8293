#pragma once
// Access to the llama.cpp golden fixtures in ../shared/fixtures (read by path, never copied).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fm::test {

std::string fixtures_dir();
std::string fixture_path(const std::string& relative);
// A file this repository keeps beside its tests (tests/<relative>), e.g. goldens made by a reference program.
std::string test_data_path(const std::string& relative);
// MANIFEST.json, parsed once; throws std::runtime_error when the fixtures are missing.
const nlohmann::json& manifest();
std::vector<float> read_f32_file(const std::string& path);
std::string read_text_file(const std::string& path);

// Largest and root-mean-square absolute difference of two equally long arrays (computed in double).
struct DiffStats {
  double max_abs = 0, rms = 0;
};
DiffStats diff_stats(const std::vector<float>& got, const std::vector<float>& want);

}  // namespace fm::test
