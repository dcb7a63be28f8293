#include "gguf/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace fm {
namespace {

class ByteSink {
 public:
  explicit ByteSink(std::vector<GgufFieldMark>* marks) : marks_(marks) {}

  template <typename T>
  void put(T v, std::optional<GgufFieldMark::Kind> kind = std::nullopt) {
    if (kind && marks_) marks_->push_back({*kind, out.size(), sizeof(T)});
    size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size(), GgufFieldMark::Kind::kStringLength);
    out.insert(out.end(), s.begin(), s.end());
  }
  void mark_section_end() {
    if (marks_) marks_->push_back({GgufFieldMark::Kind::kSectionEnd, out.size(), 0});
  }

  std::vector<uint8_t> out;

 private:
  std::vector<GgufFieldMark>* marks_;
};

void put_value(ByteSink& sink, const GgufWriteValue& v) {
  switch (v.type) {
    case GgufValueType::STRING: sink.put_string(v.str); break;
    case GgufValueType::ARRAY:
      sink.put<uint32_t>(static_cast<uint32_t>(v.elem_type), GgufFieldMark::Kind::kArrayType);
      sink.put<uint64_t>(v.items.size(), GgufFieldMark::Kind::kArrayLength);
      for (const auto& item : v.items) put_value(sink, item);
      break;
    default: {
      size_t n = gguf_value_type_size(v.type);
      size_t at = sink.out.size();
      sink.out.resize(at + n);
      std::memcpy(sink.out.data() + at, &v.bits, n);  // little-endian: low bytes first
    }
  }
}

GgufWriteValue scalar(GgufValueType type, uint64_t bits) {
  GgufWriteValue v;
  v.type = type;
  v.bits = bits;
  return v;
}

}  // namespace

GgufWriteValue GgufWriteValue::u32(uint32_t v) { return scalar(GgufValueType::UINT32, v); }
GgufWriteValue GgufWriteValue::i32(int32_t v) { return scalar(GgufValueType::INT32, static_cast<uint32_t>(v)); }
GgufWriteValue GgufWriteValue::u64(uint64_t v) { return scalar(GgufValueType::UINT64, v); }
GgufWriteValue GgufWriteValue::f32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return scalar(GgufValueType::FLOAT32, bits);
}
GgufWriteValue GgufWriteValue::boolean(bool v) { return scalar(GgufValueType::BOOL, v ? 1 : 0); }
GgufWriteValue GgufWriteValue::string(std::string_view s) {
  GgufWriteValue v;
  v.type = GgufValueType::STRING;
  v.str = std::string(s);
  return v;
}
GgufWriteValue GgufWriteValue::array(GgufValueType elem_type, std::vector<GgufWriteValue> items) {
  GgufWriteValue v;
  v.type = GgufValueType::ARRAY;
  v.elem_type = elem_type;
  v.items = std::move(items);
  return v;
}
GgufWriteValue GgufWriteValue::strings(const std::vector<std::string>& in) {
  std::vector<GgufWriteValue> items;
  items.reserve(in.size());
  for (const auto& s : in) items.push_back(string(s));
  return array(GgufValueType::STRING, std::move(items));
}
GgufWriteValue GgufWriteValue::f32s(const std::vector<float>& in) {
  std::vector<GgufWriteValue> items;
  items.reserve(in.size());
  for (float f : in) items.push_back(f32(f));
  return array(GgufValueType::FLOAT32, std::move(items));
}
GgufWriteValue GgufWriteValue::i32s(const std::vector<int32_t>& in) {
  std::vector<GgufWriteValue> items;
  items.reserve(in.size());
  for (int32_t x : in) items.push_back(i32(x));
  return array(GgufValueType::INT32, std::move(items));
}

void GgufWriter::set(std::string key, GgufWriteValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

namespace {
size_t tensor_bytes(const std::string& name, TensorType type, const std::vector<int64_t>& dims) {
  if (dims.empty() || dims.size() > 4) throw std::invalid_argument("tensor '" + name + "': 1 to 4 dimensions");
  int64_t rows = 1;
  for (size_t d = 1; d < dims.size(); ++d) rows *= dims[d];
  return tensor_row_bytes(type, dims[0]) * static_cast<size_t>(rows);
}
}  // namespace

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> dims, std::vector<uint8_t> data) {
  const size_t n = tensor_bytes(name, type, dims);
  if (n != data.size()) throw std::invalid_argument("tensor '" + name + "': data size does not match shape and type");
  tensors_.push_back({std::move(name), type, std::move(dims), std::move(data), nullptr, n});
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> dims, TensorFill fill) {
  const size_t n = tensor_bytes(name, type, dims);
  tensors_.push_back({std::move(name), type, std::move(dims), {}, std::move(fill), n});
}

std::vector<uint8_t> GgufWriter::serialize(std::vector<GgufFieldMark>* marks) const {
  std::vector<uint64_t> offsets;
  std::vector<uint8_t> out = header(marks, &offsets);
  const size_t data_start = out.size();
  for (size_t k = 0; k < tensors_.size(); ++k) {
    out.resize(data_start + offsets[k], 0);
    const size_t at = out.size();
    out.resize(at + tensors_[k].n_bytes);
    if (tensors_[k].fill) tensors_[k].fill(out.data() + at);
    else std::memcpy(out.data() + at, tensors_[k].data.data(), tensors_[k].n_bytes);
    if (marks) marks->push_back({GgufFieldMark::Kind::kSectionEnd, out.size(), 0});
  }
  return out;
}

// Everything before the data section, padded to the alignment; offsets receives each tensor's data offset.
std::vector<uint8_t> GgufWriter::header(std::vector<GgufFieldMark>* marks, std::vector<uint64_t>* offsets_out) const {
  ByteSink sink(marks);
  sink.put<uint32_t>(0x46554747, GgufFieldMark::Kind::kMagic);
  sink.put<uint32_t>(3, GgufFieldMark::Kind::kVersion);
  sink.put<uint64_t>(tensors_.size(), GgufFieldMark::Kind::kTensorCount);
  bool has_alignment = false;
  for (const auto& kv : kv_) has_alignment |= kv.first == "general.alignment";
  sink.put<uint64_t>(kv_.size() + (has_alignment || alignment_ == 32 ? 0 : 1), GgufFieldMark::Kind::kKvCount);
  sink.mark_section_end();
  auto put_kv = [&](const std::string& key, const GgufWriteValue& value) {
    sink.put_string(key);
    sink.put<uint32_t>(static_cast<uint32_t>(value.type), GgufFieldMark::Kind::kValueType);
    put_value(sink, value);
    sink.mark_section_end();
  };
  for (const auto& [key, value] : kv_) put_kv(key, value);
  if (!has_alignment && alignment_ != 32) put_kv("general.alignment", GgufWriteValue::u32(static_cast<uint32_t>(alignment_)));

  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    sink.put_string(t.name);
    sink.put<uint32_t>(static_cast<uint32_t>(t.dims.size()), GgufFieldMark::Kind::kNDims);
    for (int64_t d : t.dims) sink.put<int64_t>(d, GgufFieldMark::Kind::kDim);
    sink.put<uint32_t>(static_cast<uint32_t>(t.type), GgufFieldMark::Kind::kTensorType);
    sink.put<uint64_t>(offset, GgufFieldMark::Kind::kTensorOffset);
    sink.mark_section_end();
    offsets.push_back(offset);
    offset += (t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  size_t data_start = (sink.out.size() + alignment_ - 1) / alignment_ * alignment_;
  sink.out.resize(data_start, 0);
  *offsets_out = std::move(offsets);
  return std::move(sink.out);
}

void GgufWriter::write_file(const std::string& path) const {
  std::vector<uint64_t> offsets;
  const std::vector<uint8_t> head = header(nullptr, &offsets);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
  out.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
  uint64_t written = 0;  // bytes of the data section so far
  std::vector<uint8_t> buffer;
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const std::vector<char> pad(static_cast<size_t>(offsets[k] - written), 0);
    out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
    const uint8_t* data = tensors_[k].data.data();
    if (tensors_[k].fill) {
      buffer.resize(tensors_[k].n_bytes);
      tensors_[k].fill(buffer.data());
      data = buffer.data();
    }
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(tensors_[k].n_bytes));
    written = offsets[k] + tensors_[k].n_bytes;
  }
  if (!out) throw std::runtime_error("write to '" + path + "' failed");
}

}  // namespace fm
