#include "gguf/gguf_file.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "gguf/mapped_file.h"

namespace fm {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayNesting = 4;
constexpr uint64_t kMaxStringBytes = 1ull << 30;

// Bounds-checked little-endian reader over the header bytes; every failure names what was being read.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      std::ostringstream os;
      os << "truncated file: " << what << " needs " << n << " bytes at offset " << pos_ << ", only "
         << remaining() << " left";
      throw GgufError(os.str());
    }
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }

  std::string_view read_string(const char* what) {
    uint64_t len = read<uint64_t>(what);
    if (len > kMaxStringBytes) throw GgufError(std::string(what) + ": absurd string length " + std::to_string(len));
    const uint8_t* p = take(len, what);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

GgufValueType read_value_type(Cursor& cur, const char* what) {
  uint32_t t = cur.read<uint32_t>(what);
  if (!gguf_value_type_valid(t)) throw GgufError(std::string(what) + ": unknown value type " + std::to_string(t));
  return static_cast<GgufValueType>(t);
}

GgufValue read_value(Cursor& cur, GgufValueType type, const std::string& key, int depth);

std::shared_ptr<const GgufArray> read_array(Cursor& cur, const std::string& key, int depth) {
  if (depth > kMaxArrayNesting) throw GgufError("metadata '" + key + "': arrays nested too deeply");
  auto arr = std::make_shared<GgufArray>();
  arr->elem_type = read_value_type(cur, "array element type");
  arr->count = cur.read<uint64_t>("array length");
  // Every element occupies at least this many bytes, so the count can be checked before allocating.
  size_t elem_size = gguf_value_type_size(arr->elem_type);
  uint64_t min_elem_bytes = elem_size ? elem_size : (arr->elem_type == GgufValueType::STRING ? 8 : 12);
  if (arr->count > cur.remaining() / min_elem_bytes)
    throw GgufError("metadata '" + key + "': array length " + std::to_string(arr->count) +
                    " exceeds the bytes left in the file");
  if (elem_size) {
    arr->raw = cur.take(arr->count * elem_size, "array data");
  } else if (arr->elem_type == GgufValueType::STRING) {
    arr->strings.reserve(arr->count);
    for (uint64_t k = 0; k < arr->count; ++k) arr->strings.push_back(cur.read_string("array string"));
  } else {
    arr->arrays.reserve(arr->count);
    for (uint64_t k = 0; k < arr->count; ++k) arr->arrays.push_back(read_value(cur, GgufValueType::ARRAY, key, depth + 1));
  }
  return arr;
}

GgufValue read_value(Cursor& cur, GgufValueType type, const std::string& key, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::UINT8: v.u = cur.read<uint8_t>("u8 value"); break;
    case GgufValueType::INT8: v.i = cur.read<int8_t>("i8 value"); break;
    case GgufValueType::UINT16: v.u = cur.read<uint16_t>("u16 value"); break;
    case GgufValueType::INT16: v.i = cur.read<int16_t>("i16 value"); break;
    case GgufValueType::UINT32: v.u = cur.read<uint32_t>("u32 value"); break;
    case GgufValueType::INT32: v.i = cur.read<int32_t>("i32 value"); break;
    case GgufValueType::UINT64: v.u = cur.read<uint64_t>("u64 value"); break;
    case GgufValueType::INT64: v.i = cur.read<int64_t>("i64 value"); break;
    case GgufValueType::FLOAT32: v.f = cur.read<float>("f32 value"); break;
    case GgufValueType::FLOAT64: v.f = cur.read<double>("f64 value"); break;
    case GgufValueType::BOOL: {
      uint8_t b = cur.read<uint8_t>("bool value");
      if (b > 1) throw GgufError("metadata '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.u = b;
      break;
    }
    case GgufValueType::STRING: v.str = cur.read_string("string value"); break;
    case GgufValueType::ARRAY: v.array = read_array(cur, key, depth); break;
  }
  return v;
}

}  // namespace

std::string GgufTensorInfo::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->mapping_ = std::make_unique<MappedFile>(path);
  file->bytes_ = file->mapping_->data();
  file->size_ = file->mapping_->size();
  try {
    file->parse_all();
  } catch (const GgufError& e) {
    throw GgufError("'" + path + "': " + e.what());
  }
  return file;
}

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->bytes_ = data;
  file->size_ = size;
  file->parse_all();
  return file;
}

void GgufFile::parse_all() {
  Cursor cur(bytes_, size_);
  if (cur.read<uint32_t>("magic") != kMagic) throw GgufError("not a GGUF file (bad magic)");
  version_ = cur.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    throw GgufError("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  uint64_t n_tensors = cur.read<uint64_t>("tensor count");
  uint64_t n_kv = cur.read<uint64_t>("metadata count");
  // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor entry at least 8+4+4+8+8.
  if (n_kv > cur.remaining() / 13) throw GgufError("metadata count " + std::to_string(n_kv) + " exceeds the file size");
  if (n_tensors > cur.remaining() / 32)
    throw GgufError("tensor count " + std::to_string(n_tensors) + " exceeds the file size");

  metadata_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key(cur.read_string("metadata key"));
    if (key.empty()) throw GgufError("metadata entry " + std::to_string(k) + " has an empty key");
    GgufValueType type = read_value_type(cur, "metadata value type");
    GgufValue value = read_value(cur, type, key, 0);
    if (!metadata_index_.emplace(key, metadata_.size()).second) throw GgufError("duplicate metadata key '" + key + "'");
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer()) throw GgufError("general.alignment must be an integer");
    int64_t align = a->as_int();
    if (align <= 0 || align > (1 << 20) || (align & (align - 1)) != 0)
      throw GgufError("general.alignment " + std::to_string(align) + " is not a power of two in [1, 1 MiB]");
    alignment_ = static_cast<size_t>(align);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = std::string(cur.read_string("tensor name"));
    uint32_t n_dims = cur.read<uint32_t>("tensor dimension count");
    if (n_dims < 1 || n_dims > kMaxTensorDims)
      throw GgufError("tensor '" + t.name + "': " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    t.n_dims = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      int64_t ne = cur.read<int64_t>("tensor dimension");
      if (ne <= 0 || ne > (int64_t{1} << 40))
        throw GgufError("tensor '" + t.name + "': dimension " + std::to_string(d) + " = " + std::to_string(ne) +
                        " is out of range");
      t.ne[d] = ne;
    }
    uint32_t type_id = cur.read<uint32_t>("tensor type");
    auto info = tensor_type_info(type_id);
    if (!info) throw GgufError("tensor '" + t.name + "': unknown tensor type id " + std::to_string(type_id));
    t.type = static_cast<TensorType>(type_id);
    t.offset = cur.read<uint64_t>("tensor data offset");

    // Element count cannot overflow: each dimension is below 2^40 and their product is checked in steps.
    __int128 n_elem = 1;
    for (int d = 0; d < kMaxTensorDims; ++d) {
      n_elem *= t.ne[d];
      if (n_elem > (__int128{1} << 50)) throw GgufError("tensor '" + t.name + "': too many elements");
    }
    if (t.ne[0] % info->block_elems != 0)
      throw GgufError("tensor '" + t.name + "': row length " + std::to_string(t.ne[0]) + " is not a multiple of " +
                      std::to_string(info->block_elems) + " (block size of " + std::string(info->name) + ")");
    t.n_bytes = static_cast<size_t>(n_elem / info->block_elems) * info->block_bytes;
    if (t.offset % alignment_ != 0)
      throw GgufError("tensor '" + t.name + "': data offset " + std::to_string(t.offset) + " is not aligned to " +
                      std::to_string(alignment_));
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) throw GgufError("duplicate tensor name '" + t.name + "'");
    tensors_.push_back(std::move(t));
  }

  size_t header_end = cur.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > size_) throw GgufError("truncated file: data section is missing");
  size_t data_size = size_ > data_offset_ ? size_ - data_offset_ : 0;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      std::ostringstream os;
      os << "tensor '" << t.name << "': data [" << t.offset << ", +" << t.n_bytes << ") lies beyond the end of the file"
         << " (data section has " << data_size << " bytes)";
      throw GgufError(os.str());
    }
    t.data = bytes_ + data_offset_ + t.offset;
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) throw GgufError("missing metadata key '" + std::string(key) + "'");
  try {
    return v->as_int();
  } catch (const GgufError& e) {
    throw GgufError("metadata '" + std::string(key) + "': " + e.what());
  }
}

int64_t GgufFile::get_int_or(std::string_view key, int64_t def) const { return find(key) ? get_int(key) : def; }

double GgufFile::get_float_or(std::string_view key, double def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  try {
    return v->as_double();
  } catch (const GgufError& e) {
    throw GgufError("metadata '" + std::string(key) + "': " + e.what());
  }
}

bool GgufFile::get_bool_or(std::string_view key, bool def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  try {
    return v->as_bool();
  } catch (const GgufError& e) {
    throw GgufError("metadata '" + std::string(key) + "': " + e.what());
  }
}

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) throw GgufError("missing metadata key '" + std::string(key) + "'");
  try {
    return std::string(v->as_string());
  } catch (const GgufError& e) {
    throw GgufError("metadata '" + std::string(key) + "': " + e.what());
  }
}

std::string GgufFile::get_string_or(std::string_view key, std::string_view def) const {
  return find(key) ? get_string(key) : std::string(def);
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace fm
