#pragma once
// The store's shared SQLite helpers: a database opened under the data directory (WAL journal, full sync, busy
// timeout) and prepared statements that throw std::runtime_error naming the database on failure.
#include <cstdint>
#include <memory>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace fm {

class SqliteDb {
 public:
  // Opens (creating when needed) DIR/FILE; runs `schema` (idempotent statements). Throws with the reason.
  SqliteDb(const std::string& data_dir, const std::string& file, const std::string& schema);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(const std::string& sql);
  int changes() const;  // rows changed by the last statement on this connection
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(const SqliteDb& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, int64_t value);
  Statement& bind_null(int index);
  bool step();  // true while a row is available
  std::string text(int column) const;
  int64_t integer(int column) const;
  bool is_null(int column) const;

 private:
  const SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace fm
