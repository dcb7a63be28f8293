// Matrix-product throughput of the kernels in use, per weight type: packed GEMM (what models use where the CPU
// has it) against the file-layout vec_dot kernels in the same run. Prints one JSON object per line.
//   gemm_bench [--rows R] [--cols K] [--tokens N] [--threads T] [--seconds S] [--type NAME] [--decode 0|1]
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/kernels/kernel_table.h"
#include "tensor/matmul.h"
#include "tensor/packed_matrix.h"
#include "tensor/thread_pool.h"

namespace {

using fm::TensorType;

// Valid random rows: quantize random floats with the weight quantizers, or write halves for F16.
std::vector<uint8_t> random_matrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 0.05f);
  std::vector<float> f(static_cast<size_t>(rows * cols));
  for (auto& v : f) v = dist(rng);
  const size_t row_bytes = fm::tensor_row_bytes(type, cols);
  std::vector<uint8_t> out(row_bytes * static_cast<size_t>(rows));
  const fm::QuantizeRowFn q = fm::scalar_kernels().quantize_fn(type);
  for (int64_t r = 0; r < rows; ++r) q(f.data() + r * cols, out.data() + r * row_bytes, cols);
  return out;
}

double seconds_of(const std::function<void()>& fn, double budget) {
  fn();  // warm-up
  int reps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double s = 0;
  while (s < budget || reps < 3) {
    fn();
    ++reps;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return s / reps;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 4864, cols = 896, tokens = 64;
  int threads = 1;
  double budget = 1.0;
  std::string only;    // one weight type by name, else all
  bool decode = false;  // the tokens are decode tokens (Compute::n_decode_rows), else prompt tokens
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rows") rows = std::stoll(argv[i + 1]);
    else if (a == "--cols") cols = std::stoll(argv[i + 1]);
    else if (a == "--tokens") tokens = std::stoll(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--seconds") budget = std::stod(argv[i + 1]);
    else if (a == "--type") only = argv[i + 1];
    else if (a == "--decode") decode = std::string(argv[i + 1]) == "1";
  }
  const fm::KernelTable& k = fm::best_kernels();
  fm::ThreadPool pool(threads);
  fm::ScratchBuffer scratch;
  fm::Compute c{&pool, &k, &scratch};
  if (decode) c.n_decode_rows = tokens;
  std::mt19937 rng(1);
  std::vector<float> x(static_cast<size_t>(tokens * cols)), y(static_cast<size_t>(tokens * rows));
  for (auto& v : x) v = std::normal_distribution<float>(0.f, 1.f)(rng);
  for (TensorType type : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K,
                          TensorType::F16}) {
    if (!fm::PackedMatrix::packable(type, cols) || (!only.empty() && only != fm::tensor_type_name(type))) continue;
    const std::vector<uint8_t> data = random_matrix(type, rows, cols, rng);
    fm::MatrixView w{type, cols, rows, data.data(), fm::tensor_row_bytes(type, cols)};
    const double file_layout = seconds_of([&] { fm::matmul(c, w, x.data(), tokens, y.data()); }, budget);
    auto packed = fm::PackedMatrix::pack(type, cols, rows, data.data(), w.row_bytes);
    double packed_s = 0;
    if (k.packed_matmul) {
      w.packed = packed.get();
      packed_s = seconds_of([&] { fm::matmul(c, w, x.data(), tokens, y.data()); }, budget);
    }
    const double macs = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(tokens);
    nlohmann::ordered_json j;
    j["type"] = fm::tensor_type_name(type);
    j["rows"] = rows;
    j["cols"] = cols;
    j["tokens"] = tokens;
    j["decode_rows"] = decode;
    j["threads"] = threads;
    j["kernels"] = k.name;
    j["file_layout_gmacs"] = macs / file_layout / 1e9;
    if (packed_s > 0) {
      j["packed_gmacs"] = macs / packed_s / 1e9;
      j["packed_weight_gb_per_s"] = static_cast<double>(packed->bytes()) / packed_s / 1e9;
      j["speedup"] = file_layout / packed_s;
    }
    std::cout << j.dump() << std::endl;
  }
  return 0;
}
