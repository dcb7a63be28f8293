#include "support/tiny_model.h"

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace fm::test {
namespace {

std::vector<uint8_t> random_f32(std::mt19937& rng, size_t n, float scale, float offset = 0) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<uint8_t> bytes(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v = offset + scale * dist(rng);
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  return bytes;
}

std::vector<uint8_t> random_q8_0(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> q(-127, 127);
  std::vector<uint8_t> bytes(n / kQK * sizeof(BlockQ8_0));
  auto* blocks = reinterpret_cast<BlockQ8_0*>(bytes.data());
  for (size_t b = 0; b < n / kQK; ++b) {
    blocks[b].d = fp32_to_fp16(0.001f);
    for (int i = 0; i < kQK; ++i) blocks[b].qs[i] = static_cast<int8_t>(q(rng));
  }
  return bytes;
}

}  // namespace

std::vector<uint8_t> build_tiny_llama(std::vector<GgufFieldMark>* marks) {
  constexpr int64_t kEmbd = 64, kFf = 96, kVocab = 280, kLayers = 1, kHeads = 4, kKvHeads = 2;
  std::mt19937 rng(7);
  GgufWriter w;
  w.set("general.architecture", GgufWriteValue::string("llama"));
  w.set("llama.context_length", GgufWriteValue::u32(64));
  w.set("llama.embedding_length", GgufWriteValue::u32(kEmbd));
  w.set("llama.feed_forward_length", GgufWriteValue::u32(kFf));
  w.set("llama.block_count", GgufWriteValue::u32(kLayers));
  w.set("llama.attention.head_count", GgufWriteValue::u32(kHeads));
  w.set("llama.attention.head_count_kv", GgufWriteValue::u32(kKvHeads));
  w.set("llama.attention.layer_norm_rms_epsilon", GgufWriteValue::f32(1e-5f));
  w.set("test.nested", GgufWriteValue::array(GgufValueType::ARRAY,
                                             {GgufWriteValue::i32s({1, 2, 3}), GgufWriteValue::strings({"a", "bc"})}));

  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.emplace_back(name);
    scores.push_back(0);
    types.push_back(6);
  }
  for (const char* piece : {"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab", "ba", "\xE2\x96\x81" "ab", "c", "d", "e", "cd",
                            "de", "\xE2\x96\x81" "c", "\xE2\x96\x81" "d", "abc", "bcd", "x", "y", "z", "xy", "yz"}) {
    tokens.emplace_back(piece);
    scores.push_back(-static_cast<float>(tokens.size()));
    types.push_back(1);
  }
  w.set("tokenizer.ggml.model", GgufWriteValue::string("llama"));
  w.set("tokenizer.ggml.tokens", GgufWriteValue::strings(tokens));
  w.set("tokenizer.ggml.scores", GgufWriteValue::f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufWriteValue::i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufWriteValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufWriteValue::u32(2));

  const int64_t head_dim = kEmbd / kHeads, kv_dim = kKvHeads * head_dim;
  w.add_tensor("token_embd.weight", TensorType::Q8_0, {kEmbd, kVocab}, random_q8_0(rng, kEmbd * kVocab));
  w.add_tensor("output_norm.weight", TensorType::F32, {kEmbd}, random_f32(rng, kEmbd, 0.1f, 1.f));
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.add_tensor(p + "attn_norm.weight", TensorType::F32, {kEmbd}, random_f32(rng, kEmbd, 0.1f, 1.f));
    w.add_tensor(p + "attn_q.weight", TensorType::Q8_0, {kEmbd, kEmbd}, random_q8_0(rng, kEmbd * kEmbd));
    w.add_tensor(p + "attn_k.weight", TensorType::Q8_0, {kEmbd, kv_dim}, random_q8_0(rng, kEmbd * kv_dim));
    w.add_tensor(p + "attn_v.weight", TensorType::F32, {kEmbd, kv_dim}, random_f32(rng, kEmbd * kv_dim, 0.05f));
    w.add_tensor(p + "attn_output.weight", TensorType::Q8_0, {kEmbd, kEmbd}, random_q8_0(rng, kEmbd * kEmbd));
    w.add_tensor(p + "ffn_norm.weight", TensorType::F32, {kEmbd}, random_f32(rng, kEmbd, 0.1f, 1.f));
    w.add_tensor(p + "ffn_gate.weight", TensorType::Q8_0, {kEmbd, kFf}, random_q8_0(rng, kEmbd * kFf));
    w.add_tensor(p + "ffn_up.weight", TensorType::Q8_0, {kEmbd, kFf}, random_q8_0(rng, kEmbd * kFf));
    w.add_tensor(p + "ffn_down.weight", TensorType::F32, {kFf, kEmbd}, random_f32(rng, kFf * kEmbd, 0.05f));
  }
  return w.serialize(marks);
}

}  // namespace fm::test
