// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers shared by the JSON-language tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "dsstne/config.hpp"
#include "dsstne/error.hpp"

namespace dsstne::testing {
/// DSSTNE's reference configs: $DSSTNE_REFERENCE_DIR (the reference directory or its configs/
/// folder), else the development checkout's ../shared/dsstne-reference/configs.
inline std::filesystem::path reference_configs() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DSSTNE_REFERENCE_DIR")) {
    const fs::path root(env);
    return fs::is_directory(root / "configs") ? root / "configs" : root;
  }
  return fs::path(DSSTNE_SOURCE_DIR) / ".." / "shared" / "dsstne-reference" / "configs";
}

/// A network whose Layers list is `layers`, plus any extra top-level members.
inline std::string net(const std::string& layers, const std::string& extra = "") {
  return "{" + extra + (extra.empty() ? "" : ",") + "\"Layers\": [" + layers + "]}";
}

/// Three FC layers; `hidden` is spliced into the middle one.
inline std::string three(const std::string& hidden, const std::string& extra = "") {
  return net(R"({"Name": "in", "N": 8, "DataSet": "x"}, {"Name": "h", "N": 4)" +
                 std::string(hidden.empty() ? "" : ", ") + hidden +
                 R"(}, {"Name": "out", "N": 8, "DataSet": "y"})",
             extra);
}

/// Runs `f`, expects exception `E`, and checks the message contains every part.
template <typename E>
void expect_throw(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << parts.front();
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message lacks '" << p << "': " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

inline void expect_invalid(const std::string& json, const std::vector<std::string>& parts) {
  expect_throw<InvalidArgument>([&] { parse_network_json(json); }, parts);
}

}  // namespace dsstne::testing
