#pragma once
// Read-only memory mapping of a whole file; the bytes stay valid for the object's lifetime.
#include <cstddef>
#include <cstdint>
#include <string>

namespace fm {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws std::runtime_error with errno text
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Hands the whole pages inside [data, data + bytes) of a read-only file mapping back to the page cache: they are
// clean, so a later read just faults them in again. Only for memory a MappedFile maps (elsewhere it would zero it).
void release_file_pages(const uint8_t* data, size_t bytes);

}  // namespace fm
