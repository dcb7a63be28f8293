#pragma once
// Durable long-running operations (async completions today; batch tasks and dataset validation next): stored
// before they run, so a kill -9 at any moment loses none and finishes none twice. The store keeps requests and
// results in the services' internal JSON; the API layer shapes them for its dialect.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fm {

struct OperationError {
  int code = 0;  // google.rpc.Code
  std::string message;
};

struct Operation {
  std::string id, folder, kind, description, created_by;
  int64_t created_at_ms = 0, modified_at_ms = 0;
  bool done = false;
  int attempts = 0;                  // runs started (a restart re-runs an unfinished operation)
  nlohmann::json request;            // what to run
  nlohmann::json metadata;           // progress, or null
  std::optional<nlohmann::json> response;  // once done: exactly one of response / error
  std::optional<OperationError> error;
};

class OperationStore {
 public:
  virtual ~OperationStore() = default;
  // Stores a new, not yet done operation and returns it (with its id).
  virtual Operation create(const std::string& folder, const std::string& kind, const std::string& description,
                           const std::string& created_by, const nlohmann::json& request) = 0;
  virtual std::optional<Operation> get(const std::string& id) const = 0;
  // Operations not done, oldest first; only those of `kind` unless it is empty.
  virtual std::vector<Operation> pending(size_t limit, const std::string& kind = {}) const = 0;
  // Counts a started run; returns the number of runs so far (0 when the operation is done or gone).
  virtual int begin_attempt(const std::string& id) = 0;
  virtual void set_metadata(const std::string& id, const nlohmann::json& metadata) = 0;
  // Each finishes a not-done operation and returns true; false (nothing changed) when it was already done.
  virtual bool complete(const std::string& id, const nlohmann::json& response) = 0;
  virtual bool fail(const std::string& id, const OperationError& error) = 0;
  // Deletes done operations last modified before the cutoff; returns how many.
  virtual int purge_done_before(int64_t cutoff_ms) = 0;
};

// The embedded default: DIR/operations.sqlite3.
std::unique_ptr<OperationStore> open_sqlite_operation_store(const std::string& data_dir);

int64_t now_ms();  // wall clock, milliseconds since the epoch

}  // namespace fm
