// Durable operations: stored before they run, finished exactly once, kept across a reopen (what a restart after
// kill -9 sees), purged after retention.
#include <gtest/gtest.h>

#include <filesystem>

#include "store/operation_store.h"

namespace fm {
namespace {

class OperationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fm-ops-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                                     "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(OperationStoreTest, CreatedOperationsArePendingUntilFinishedOnce) {
  auto store = open_sqlite_operation_store(dir_.string());
  const Operation a = store->create("f1", "completion", "Async GPT Completion", "key1", {{"x", 1}});
  const Operation b = store->create("f1", "completion", "Async GPT Completion", "key1", {{"x", 2}});
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(a.id.rfind("fm", 0), 0u);
  auto pending = store->pending(10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id, a.id);  // oldest first
  EXPECT_EQ(pending[0].request, (nlohmann::json{{"x", 1}}));
  EXPECT_EQ(store->begin_attempt(a.id), 1);
  EXPECT_EQ(store->begin_attempt(a.id), 2);
  EXPECT_TRUE(store->complete(a.id, {{"text", "done"}}));
  EXPECT_FALSE(store->complete(a.id, {{"text", "again"}}));  // exactly once
  EXPECT_FALSE(store->fail(a.id, {13, "late"}));
  EXPECT_EQ(store->begin_attempt(a.id), 0);  // done: nothing to run
  const auto done = store->get(a.id);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->done);
  EXPECT_EQ((*done->response)["text"], "done");
  EXPECT_FALSE(done->error);
  EXPECT_TRUE(store->fail(b.id, {1, "the operation was cancelled"}));
  EXPECT_EQ(store->get(b.id)->error->code, 1);
  EXPECT_TRUE(store->pending(10).empty());
  EXPECT_FALSE(store->get("fmnope"));
}

TEST_F(OperationStoreTest, SurvivesReopenAndPurgesOnlyOldDoneOperations) {
  std::string running, finished;
  {
    auto store = open_sqlite_operation_store(dir_.string());
    running = store->create("f1", "completion", "d", "k", {}).id;
    finished = store->create("f1", "completion", "d", "k", {}).id;
    store->begin_attempt(running);
    store->complete(finished, {{"ok", true}});
  }  // closed as a killed process leaves it: committed rows only
  auto store = open_sqlite_operation_store(dir_.string());
  const auto pending = store->pending(10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, running);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(store->purge_done_before(now_ms() - 60'000), 0);  // finished just now: kept
  EXPECT_EQ(store->purge_done_before(now_ms() + 1), 1);       // only the done one
  EXPECT_FALSE(store->get(finished));
  EXPECT_TRUE(store->get(running));
}

}  // namespace
}  // namespace fm
