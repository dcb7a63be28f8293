#include <gtest/gtest.h>

#include <cstring>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "support/fixtures.h"

namespace fm {
namespace {

TEST(GgufReader, RoundTripsEveryValueTypeAndTensorTable) {
  GgufWriter w(64);
  w.set("k.u32", GgufWriteValue::u32(4000000000u));
  w.set("k.i32", GgufWriteValue::i32(-7));
  w.set("k.u64", GgufWriteValue::u64(1ull << 40));
  w.set("k.f32", GgufWriteValue::f32(0.25f));
  w.set("k.bool", GgufWriteValue::boolean(true));
  w.set("k.str", GgufWriteValue::string("h\xC3\xA9llo"));
  w.set("k.strs", GgufWriteValue::strings({"a", "", "ccc"}));
  w.set("k.nested", GgufWriteValue::array(GgufValueType::ARRAY,
                                          {GgufWriteValue::i32s({1, -2}), GgufWriteValue::f32s({1.5f}),
                                           GgufWriteValue::array(GgufValueType::ARRAY, {GgufWriteValue::strings({"deep"})})}));
  std::vector<uint8_t> data(3 * 4 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  w.add_tensor("t0", TensorType::F32, {4, 3}, data);
  w.add_tensor("t1", TensorType::F16, {2}, {1, 2, 3, 4});
  std::vector<uint8_t> bytes = w.serialize();

  auto f = GgufFile::parse(bytes.data(), bytes.size());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->get_int("k.u32"), 4000000000ll);
  EXPECT_EQ(f->get_int("k.i32"), -7);
  EXPECT_EQ(f->get_int("k.u64"), 1ll << 40);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float_or("k.f32", 0)), 0.25f);
  EXPECT_TRUE(f->get_bool_or("k.bool", false));
  EXPECT_EQ(f->get_string("k.str"), "h\xC3\xA9llo");
  const GgufArray& strs = f->find("k.strs")->as_array();
  ASSERT_EQ(strs.count, 3u);
  EXPECT_EQ(strs.strings[2], "ccc");
  const GgufArray& nested = f->find("k.nested")->as_array();
  ASSERT_EQ(nested.count, 3u);
  EXPECT_EQ(nested.arrays[0].as_array().integer(1), -2);
  EXPECT_DOUBLE_EQ(nested.arrays[1].as_array().number(0), 1.5);
  EXPECT_EQ(nested.arrays[2].as_array().arrays[0].as_array().strings[0], "deep");

  ASSERT_EQ(f->tensors().size(), 2u);
  const GgufTensorInfo* t0 = f->find_tensor("t0");
  ASSERT_NE(t0, nullptr);
  EXPECT_EQ(t0->ne[0], 4);
  EXPECT_EQ(t0->ne[1], 3);
  EXPECT_EQ(t0->n_bytes, 48u);
  EXPECT_EQ(std::memcmp(t0->data, data.data(), data.size()), 0);
  EXPECT_EQ((t0->data - bytes.data()) % 64, 0);
  EXPECT_EQ(f->find_tensor("t1")->type, TensorType::F16);
  EXPECT_EQ(f->find_tensor("nope"), nullptr);
  EXPECT_THROW(f->get_int("k.str"), GgufError);
  EXPECT_THROW(f->get_string("missing"), GgufError);
}

TEST(GgufReader, ReadsTheRealFixtureModel) {
  auto f = GgufFile::open(test::fixture_path("models/aidreams260K.gguf"));
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f->tensors().size(), 39u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->as_array().count, 512u);
}

TEST(GgufReader, ReadsVersion2Files) {
  GgufWriter w;
  w.set("general.architecture", GgufWriteValue::string("llama"));
  std::vector<uint8_t> bytes = w.serialize();
  bytes[4] = 2;  // v2 has the same layout with 64-bit counts
  EXPECT_EQ(GgufFile::parse(bytes.data(), bytes.size())->version(), 2u);
  bytes[4] = 1;
  EXPECT_THROW(GgufFile::parse(bytes.data(), bytes.size()), GgufError);
}

TEST(GgufReader, RejectsMisalignedAndOutOfBoundsTensors) {
  GgufWriter w;
  w.add_tensor("t", TensorType::F32, {8}, std::vector<uint8_t>(32));
  std::vector<GgufFieldMark> marks;
  std::vector<uint8_t> good = w.serialize(&marks);
  for (const auto& m : marks) {
    if (m.kind != GgufFieldMark::Kind::kTensorOffset) continue;
    std::vector<uint8_t> bad = good;
    uint64_t off = 4;
    std::memcpy(bad.data() + m.offset, &off, 8);
    EXPECT_THROW(GgufFile::parse(bad.data(), bad.size()), GgufError);
    off = 1ull << 20;
    std::memcpy(bad.data() + m.offset, &off, 8);
    EXPECT_THROW(GgufFile::parse(bad.data(), bad.size()), GgufError);
  }
}

}  // namespace
}  // namespace fm
