#include "diffusion/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "gguf/mapped_file.h"
#include "tensor/fp16.h"

namespace fm {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // real checkpoints have headers of a few hundred KiB
constexpr size_t kMaxRank = 8;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

TensorType dtype_from_name(const std::string& name, const std::string& tensor) {
  if (name == "F32") return TensorType::F32;
  if (name == "F16") return TensorType::F16;
  if (name == "BF16") return TensorType::BF16;
  throw SafetensorsError("tensor " + tensor + ": dtype " + name + " is not supported (F32, F16 and BF16 are)");
}

size_t dtype_bytes(TensorType t) { return t == TensorType::F32 ? 4 : 2; }

TensorRef parse_entry(const std::string& name, const nlohmann::json& e, const uint8_t* data, uint64_t data_size,
                      std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  if (!e.is_object()) throw SafetensorsError("tensor " + name + ": entry is not an object");
  const auto dtype = e.find("dtype");
  const auto shape = e.find("shape");
  const auto offsets = e.find("data_offsets");
  if (dtype == e.end() || !dtype->is_string()) throw SafetensorsError("tensor " + name + ": no dtype");
  if (shape == e.end() || !shape->is_array() || shape->size() > kMaxRank)
    throw SafetensorsError("tensor " + name + ": shape missing or of rank above 8");
  if (offsets == e.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    throw SafetensorsError("tensor " + name + ": data_offsets must be two unsigned integers");
  TensorRef ref;
  ref.type = dtype_from_name(dtype->get<std::string>(), name);
  uint64_t elements = 1;
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 40))
      throw SafetensorsError("tensor " + name + ": shape entries must be unsigned integers below 2^40");
    const uint64_t n = d.get<uint64_t>();
    if (n != 0 && elements > (1ull << 48) / n) throw SafetensorsError("tensor " + name + ": shape too large");
    elements *= n;
    ref.shape.push_back(static_cast<int64_t>(n));
  }
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  if (begin > end || end > data_size)
    throw SafetensorsError("tensor " + name + ": data range [" + std::to_string(begin) + ", " + std::to_string(end) +
                           ") lies outside the " + std::to_string(data_size) + "-byte data area");
  if (end - begin != elements * dtype_bytes(ref.type))
    throw SafetensorsError("tensor " + name + ": " + std::to_string(end - begin) + " bytes for " +
                           std::to_string(elements) + " elements of " + dtype->get<std::string>());
  if (elements > 0) ranges.emplace_back(begin, end);
  ref.data = data + begin;
  return ref;
}

}  // namespace

SafetensorsIndex::SafetensorsIndex(const uint8_t* data, size_t size) {
  if (size < 8) throw SafetensorsError("not a safetensors file: shorter than its 8-byte header length");
  const uint64_t header_bytes = read_u64_le(data);
  if (header_bytes < 2 || header_bytes > kMaxHeaderBytes || header_bytes > size - 8)
    throw SafetensorsError("not a safetensors file: header length " + std::to_string(header_bytes) +
                           " does not fit the file of " + std::to_string(size) + " bytes");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + header_bytes);
  } catch (const nlohmann::json::exception& e) {
    throw SafetensorsError(std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw SafetensorsError("safetensors header is not a JSON object");
  const uint8_t* area = data + 8 + header_bytes;
  const uint64_t area_size = size - 8 - header_bytes;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw SafetensorsError("__metadata__ is not an object");
      for (const auto& [k, v] : entry.items())
        if (v.is_string()) metadata_[k] = v.get<std::string>();
      continue;
    }
    tensors_[name] = parse_entry(name, entry, area, area_size, ranges);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) throw SafetensorsError("safetensors tensors overlap in the data area");
}

const TensorRef* SafetensorsIndex::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  try {
    index_ = std::make_unique<SafetensorsIndex>(file_->data(), file_->size());
  } catch (const SafetensorsError& e) {
    throw SafetensorsError(path + ": " + e.what());
  }
}

SafetensorsFile::~SafetensorsFile() = default;

void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors, TensorType type,
                       const std::function<void(size_t, std::vector<float>&)>& fill) {
  if (type != TensorType::F32 && type != TensorType::F16)
    throw std::invalid_argument("safetensors output type must be F32 or F16");
  const uint64_t elem = type == TensorType::F32 ? 4 : 2;
  const char* dtype = type == TensorType::F32 ? "F32" : "F16";
  // The header keeps the tensors in the given order (a JSON library would sort the keys).
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = 1;
    std::string shape;
    for (int64_t d : t.shape) {
      n *= static_cast<uint64_t>(d);
      if (!shape.empty()) shape += ',';
      shape += std::to_string(d);
    }
    header += ",\"" + t.name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + n * elem) + "]}";
    offset += n * elem;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string tmp = path + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = true;
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  std::vector<float> values;
  std::vector<uint16_t> half;
  for (size_t i = 0; ok && i < tensors.size(); ++i) {
    int64_t n = 1;
    for (int64_t d : tensors[i].shape) n *= d;
    values.assign(static_cast<size_t>(n), 0.f);
    fill(i, values);
    if (type == TensorType::F32) {
      ok = std::fwrite(values.data(), sizeof(float), values.size(), f) == values.size();
    } else {
      half.resize(values.size());
      for (size_t j = 0; j < values.size(); ++j) half[j] = fp32_to_fp16(values[j]);
      ok = std::fwrite(half.data(), sizeof(uint16_t), half.size(), f) == half.size();
    }
  }
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  }
}

}  // namespace fm
