// Datasets' records and batch tasks with their per-line results: kept across a reopen (what a restart after
// kill -9 sees), listed by folder page by page, moved on only from the status expected, one result per line.
#include <gtest/gtest.h>

#include <filesystem>

#include "store/batch_store.h"
#include "store/dataset_store.h"
#include "util/line_reader.h"

namespace fm {
namespace {

class BatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fm-batch-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                                     "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

Dataset draft(const std::string& folder, const std::string& name) {
  Dataset d;
  d.folder = folder;
  d.name = name;
  d.task_type = "TextToTextGenerationRequest";
  d.labels = {{"k", "v"}};
  return d;
}

TEST_F(BatchStoreTest, DatasetsSurviveAReopenAndListByFolderPageByPage) {
  std::string a_id, token;
  {
    auto store = open_sqlite_dataset_store(dir_.string());
    Dataset a = store->create(draft("f1", "alpha"));
    store->create(draft("f1", "beta"));
    store->create(draft("f2", "gamma"));
    EXPECT_EQ(a.id.rfind("fds", 0), 0u);
    EXPECT_EQ(a.upload_token.size(), 48u);
    a.status = kDatasetValidating;
    a.validation_errors.push_back({"invalid_json", "the row is not valid JSON", {2, 5}});
    EXPECT_TRUE(store->put_if_status(a, kDatasetDraft));
    a.status = kDatasetReady;
    EXPECT_FALSE(store->put_if_status(a, kDatasetDraft));  // it left DRAFT already
    a_id = a.id;
    token = a.upload_token;
  }
  auto store = open_sqlite_dataset_store(dir_.string());
  const auto a = store->get(a_id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, kDatasetValidating);
  EXPECT_EQ(a->labels.at("k"), "v");
  ASSERT_EQ(a->validation_errors.size(), 1u);
  EXPECT_EQ(a->validation_errors[0].rows, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(store->by_upload_token(token)->id, a_id);
  EXPECT_FALSE(store->by_upload_token("nope"));

  DatasetQuery q;
  q.folder = "f1";
  q.page_size = 1;
  const DatasetPage p1 = store->list(q);
  ASSERT_EQ(p1.datasets.size(), 1u);
  EXPECT_EQ(p1.datasets[0].name, "alpha");
  ASSERT_FALSE(p1.next_page_token.empty());
  q.page_token = p1.next_page_token;
  const DatasetPage p2 = store->list(q);
  ASSERT_EQ(p2.datasets.size(), 1u);
  EXPECT_EQ(p2.datasets[0].name, "beta");
  EXPECT_TRUE(p2.next_page_token.empty());
  q = DatasetQuery{};
  q.folder = "f1";
  q.statuses = {kDatasetDraft};
  EXPECT_EQ(store->list(q).datasets.size(), 1u);
  q.statuses.clear();
  q.name_pattern = "amm";
  EXPECT_EQ(store->list(q).datasets.size(), 0u);  // gamma is another folder's
  q.page_token = "garbage";
  EXPECT_THROW(store->list(q), std::invalid_argument);
  EXPECT_TRUE(store->remove(a_id));
  EXPECT_FALSE(store->get(a_id));
}

TEST_F(BatchStoreTest, EachLineHasOneResultAcrossReopens) {
  std::string id;
  {
    auto store = open_sqlite_batch_store(dir_.string());
    BatchTask t;
    t.folder = "f1";
    t.source_dataset_id = "fds1";
    t.generation = {{"model", "m"}};
    t = store->create(t);
    id = t.id;
    EXPECT_TRUE(store->put_result(id, {3, std::string("three"), "", 5, 7, "{}", 0}));
    EXPECT_TRUE(store->put_result(id, {1, std::nullopt, "bad row", 0, 0, "", 3}));
    EXPECT_FALSE(store->put_result(id, {3, std::string("again"), "", 1, 1, "{}", 0}));  // a line runs into the result once
  }
  auto store = open_sqlite_batch_store(dir_.string());
  EXPECT_TRUE(store->put_result(id, {2, std::string("two"), "", 1, 1, "{}", 0}));
  EXPECT_EQ(store->finished_lines(id), (std::vector<int64_t>{1, 2, 3}));
  std::vector<std::string> seen;
  store->each_result(id, [&](const LineResult& r) { seen.push_back(r.response ? *r.response : "error:" + r.error); });
  EXPECT_EQ(seen, (std::vector<std::string>{"error:bad row", "two", "three"}));
  const auto errors = store->line_errors(id, 10);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 1);
  ASSERT_EQ(store->unfinished().size(), 1u);
  BatchTask t = *store->get(id);
  t.status = kTaskInProgress;
  EXPECT_FALSE(store->put_if_status(t, kTaskPending));
  EXPECT_TRUE(store->put_if_status(t, kTaskCreated));
  t.status = kTaskCompleted;
  EXPECT_TRUE(store->put(t));
  EXPECT_TRUE(store->unfinished().empty());
  EXPECT_EQ(store->list("f1", 10, "").tasks.size(), 1u);
  EXPECT_EQ(store->list("f2", 10, "").tasks.size(), 0u);
  EXPECT_TRUE(store->remove(id));
  EXPECT_TRUE(store->finished_lines(id).empty());
}

TEST_F(BatchStoreTest, LineReaderBoundsLongLinesAndCountsTheLastLineWithoutNewline) {
  const std::string path = (dir_ / "rows.jsonl").string();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    const std::string long_line(3 << 20, 'x');  // longer than a read block
    std::fprintf(f, "a\r\n%s\n\nlast", long_line.c_str());
    std::fclose(f);
  }
  EXPECT_EQ(count_lines(path), 4);
  LineReader reader(path, 1 << 20);
  std::string line;
  bool too_long;
  ASSERT_TRUE(reader.next(line, too_long));
  EXPECT_EQ(line, "a");
  EXPECT_FALSE(too_long);
  ASSERT_TRUE(reader.next(line, too_long));
  EXPECT_TRUE(too_long);
  EXPECT_EQ(line.size(), size_t{1} << 20);
  ASSERT_TRUE(reader.next(line, too_long));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(reader.next(line, too_long));
  EXPECT_EQ(line, "last");
  EXPECT_EQ(reader.line_number(), 4);
  EXPECT_FALSE(reader.next(line, too_long));
}

}  // namespace
}  // namespace fm
