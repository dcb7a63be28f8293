#pragma once
// Files written so that a crash at any moment leaves either the old content or the new one, never a mix.
#include <string>

namespace fm {

// Writes `data` to a temporary beside `path`, flushes it to disk and renames it over `path`.
void write_file_durably(const std::string& path, const std::string& data);
// Flushes `path` (a file being appended to, or a directory after a rename) to disk.
void sync_path(const std::string& path);
// Renames `from` over `to` and makes the rename durable.
void rename_durably(const std::string& from, const std::string& to);

}  // namespace fm
