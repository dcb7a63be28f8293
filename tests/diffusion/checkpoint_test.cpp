// The safetensors reader on malformed files, checkpoints with missing or mis-shaped tensors, and the CLIP
// tokenizer's window layout.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "diffusion/checkpoint.h"
#include "diffusion/nn.h"
#include "diffusion/safetensors.h"
#include "diffusion/txt2img.h"
#include "synth/sd_synth.h"

namespace fm {
namespace {

std::vector<uint8_t> file_with(const std::string& header, size_t data_bytes) {
  std::string f(8, '\0');
  for (int i = 0; i < 8; ++i) f[static_cast<size_t>(i)] = static_cast<char>(header.size() >> (8 * i));
  f += header;
  f.append(data_bytes, '\0');
  return std::vector<uint8_t>(f.begin(), f.end());
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsIndex index(bytes.data(), bytes.size());
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsTensorsAndRefusesMalformedFiles) {
  const auto good = file_with(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}})", 12);
  SafetensorsIndex index(good.data(), good.size());
  ASSERT_NE(index.find("w"), nullptr);
  EXPECT_EQ(index.find("w")->type, TensorType::F16);
  EXPECT_EQ(index.find("w")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(index.metadata().at("format"), "pt");

  const struct {
    std::vector<uint8_t> bytes;
    const char* expected;
  } cases[] = {
      {{1, 2, 3}, "shorter than its 8-byte header length"},
      {file_with(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "lies outside"},
      {file_with(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "8 bytes for 3 elements"},
      {file_with(R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8), "dtype I64 is not supported"},
      {file_with(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "unsigned integers"},
      {file_with(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), "lies outside"},
      {file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "overlap"},
      {file_with(R"({"w":)", 0), "not valid JSON"},
      {file_with(R"([1,2])", 0), "not a JSON object"},
  };
  for (const auto& c : cases) {
    const std::string error = parse_error(c.bytes);
    EXPECT_NE(error.find(c.expected), std::string::npos) << "got: " << error;
  }
  EXPECT_EQ(parse_error(file_with("{}", 0)), "") << "a file without tensors is valid";
  std::vector<uint8_t> huge = file_with("{}", 0);
  huge[7] = 0x7f;
  EXPECT_NE(parse_error(huge).find("header length"), std::string::npos);
}

TEST(Safetensors, TensorsAtUnalignedOffsetsAreReadFromAlignedCopies) {
  // Header of 60 bytes: the data area starts at 68, and the tensor one byte into it.
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  header.append(60 - header.size(), ' ');
  std::vector<uint8_t> bytes = file_with(header, 9);
  const float values[2] = {1.5f, -2.25f};
  std::memcpy(bytes.data() + 8 + header.size() + 1, values, sizeof values);
  const SafetensorsIndex index(bytes.data(), bytes.size());
  DiffusionWeights weights(index);
  const float* w = weights.vector("w", 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w) % alignof(float), 0u);
  EXPECT_EQ(w[0], 1.5f);
  EXPECT_EQ(w[1], -2.25f);
}

TEST(DiffusionCheckpoint, MissingOrMisShapedTensorsAreRefusedByName) {
  const SdConfig config = sd_config_named("sd1-fixture");
  TensorMap weights = sd_formula_weights(config, 0, false);
  const std::string name = "model.diffusion_model.output_blocks.8.2.conv.weight";
  weights.add(name, {64, 64, 1, 1}, std::vector<float>(64 * 64, 0.f));  // replaces the 3x3 kernel
  try {
    SdPipeline pipeline(config, weights);
    FAIL() << "a mis-shaped tensor was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor " + name + " has shape [64, 64, 1, 1], expected [64, 64, 3, 3]"),
              std::string::npos)
        << e.what();
  }
  const SdConfig inferred = infer_sd_config(weights);
  EXPECT_EQ(inferred.unet.model_channels, 32);
  EXPECT_EQ(inferred.vae.channels, 32);
  EXPECT_EQ(inferred.clip.n_layer, 12);
  EXPECT_EQ(inferred.clip.width, 768);
  EXPECT_EQ(inferred.unet.context_dim, 768);
  EXPECT_EQ(sd_tensor_list(inferred).size(), sd_tensor_list(config).size());
}

// Shapes without values: what infer_sd_config reads.
class ShapesOnly : public TensorSource {
 public:
  explicit ShapesOnly(const SdConfig& config) {
    for (const SdTensorSpec& spec : sd_tensor_list(config)) refs_[spec.name].shape = spec.shape;
  }
  const TensorRef* find(const std::string& name) const override {
    const auto it = refs_.find(name);
    return it == refs_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, TensorRef> refs_;
};

TEST(DiffusionCheckpoint, InfersSd1AndSd2LayoutsFromTheTensors) {
  const SdConfig sd1 = infer_sd_config(ShapesOnly(sd_config_named("sd1.5")));
  EXPECT_FALSE(sd1.clip.open_clip());
  EXPECT_EQ(sd1.clip.layers_run(), 12);
  EXPECT_EQ(sd1.clip.pad_token(), -1);  // EOS
  EXPECT_EQ(sd1.unet.heads_at(640), 8);
  EXPECT_FALSE(sd1.unet.linear_projection);
  EXPECT_EQ(sd1.prediction, Prediction::kEps);

  const SdConfig sd2 = infer_sd_config(ShapesOnly(sd_config_named("sd2.1")));
  EXPECT_TRUE(sd2.clip.open_clip());
  EXPECT_EQ(sd2.clip.n_layer, 24);
  EXPECT_EQ(sd2.clip.layers_run(), 23);  // the penultimate layer's output
  EXPECT_EQ(sd2.clip.width, 1024);
  EXPECT_EQ(sd2.clip.n_head, 16);
  EXPECT_EQ(sd2.clip.n_ff, 4096);
  EXPECT_EQ(sd2.clip.pad_token(), 0);
  EXPECT_EQ(sd2.unet.context_dim, 1024);
  EXPECT_EQ(sd2.unet.model_channels, 320);
  EXPECT_EQ(sd2.unet.heads_at(640), 10);  // heads of 64 channels
  EXPECT_TRUE(sd2.unet.linear_projection);
  EXPECT_EQ(sd2.prediction, Prediction::kAuto);
  EXPECT_EQ(sd_tensor_list(sd2).size(), sd_tensor_list(sd_config_named("sd2.1")).size());

  const std::vector<int32_t> empty = empty_prompt_tokens(sd2.clip, 154);  // two windows
  EXPECT_EQ(empty[0], 49406);
  EXPECT_EQ(empty[1], 49407);
  EXPECT_EQ(empty[2], 0);
  EXPECT_EQ(empty[77], 49406);
  EXPECT_EQ(empty[78], 49407);
  EXPECT_EQ(empty[153], 0);
  EXPECT_EQ(empty_prompt_tokens(sd1.clip, 77)[76], 49407);
}

}  // namespace
}  // namespace fm
