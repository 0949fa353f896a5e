// SPDX-License-Identifier: Apache-2.0
/// @file log.cpp
/// @brief The logging sink: one process-wide function behind a mutex.

#include "dsstne/log.hpp"

#include <cstdio>
#include <mutex>
#include <utility>

namespace dsstne {

namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

LogSink& current_sink() {
  static LogSink sink;
  return sink;
}

void default_sink(LogLevel level, const std::string& message) {
  if (level < LogLevel::Warning) return;
  std::fprintf(stderr, "dsstne: %s: %s\n", level == LogLevel::Warning ? "warning" : "error",
               message.c_str());
}

}  // namespace

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  current_sink() = std::move(sink);
}

void log_message(LogLevel level, const std::string& message) {
  LogSink sink;
  {
    std::lock_guard<std::mutex> lock(sink_mutex());
    sink = current_sink();  // a copy: the sink may log or be replaced while it runs
  }
  try {
    if (sink)
      sink(level, message);
    else
      default_sink(level, message);
  } catch (...) {
    // Logging must never end a training run.
  }
}

}  // namespace dsstne
