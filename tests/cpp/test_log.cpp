// SPDX-License-Identifier: Apache-2.0
// The logging sink: the embedding program's sink receives the training log, a failing sink
// never stops training, and without a sink warnings reach stderr.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dataset_util.hpp"
#include "dsstne/config.hpp"
#include "dsstne/log.hpp"
#include "dsstne/network.hpp"

namespace dsstne {
namespace {

constexpr const char* kConfig = R"({
  "Name": "logged", "Kind": "FeedForward",
  "Layers": [
    {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": true},
    {"Name": "Hidden", "Kind": "Hidden", "N": 4, "Activation": "Sigmoid"},
    {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x", "Activation": "Sigmoid"}
  ],
  "ErrorFunction": "CrossEntropy"
})";

std::shared_ptr<DataSet> tiny(const Context& ctx) {
  return testing::boolean_rows(ctx, "x", 6, {{0, 3}, {1}, {2, 5}});
}

/// Restores the default sink when a test ends, whatever happens in it.
struct SinkGuard {
  ~SinkGuard() { set_log_sink({}); }
};

TEST(Log, TrainingReportsEveryEpochToTheSink) {
  SinkGuard guard;
  std::vector<std::pair<LogLevel, std::string>> seen;
  set_log_sink([&](LogLevel level, const std::string& m) { seen.emplace_back(level, m); });
  const Context ctx(Device::CPU, 0, 12134);
  Network net(parse_network_json(kConfig), {tiny(ctx)}, 2, ctx);
  TrainParams params;
  const auto history = net.train(2, params);
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& entry : seen) EXPECT_EQ(entry.first, LogLevel::Info);
  EXPECT_EQ(seen[0].second,
            "network 'logged': training epochs 1 to 2 with SGD on 3 examples, batch 2, cpu");
  EXPECT_EQ(seen[1].second.rfind("network 'logged' epoch 1: error " +
                                     detail::concat(history[0].error) + ", alpha 0.025, ",
                                 0),
            0u)
      << seen[1].second;
  EXPECT_EQ(seen[2].second.rfind("network 'logged' epoch 2: error ", 0), 0u) << seen[2].second;
}

TEST(Log, AThrowingSinkDoesNotStopTraining) {
  SinkGuard guard;
  int calls = 0;
  set_log_sink([&](LogLevel, const std::string&) {
    ++calls;
    throw std::runtime_error("sink failed");
  });
  const Context ctx(Device::CPU, 0, 12134);
  Network net(parse_network_json(kConfig), {tiny(ctx)}, 2, ctx);
  EXPECT_EQ(net.train(3, TrainParams{}).size(), 3u);
  EXPECT_EQ(calls, 4);
}

TEST(Log, DefaultSinkPrintsWarningsAndDropsInformation) {
  set_log_sink({});
  ::testing::internal::CaptureStderr();
  log_event(LogLevel::Info, "quiet ", 1);
  log_event(LogLevel::Warning, "layer '", "Hidden", "' is ", 4, " wide");
  log_event(LogLevel::Error, "bad");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "dsstne: warning: layer 'Hidden' is 4 wide\ndsstne: error: bad\n");
}

}  // namespace
}  // namespace dsstne
