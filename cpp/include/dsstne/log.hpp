// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file log.hpp
/// @brief The engine's one logging sink. Without a sink of the embedding program's, warnings and
/// errors go to stderr and information is dropped; the Python package points the sink at
/// `logging.getLogger("dsstne")`. Levels use Python's numbers so they map one to one.

#include <functional>
#include <string>

#include "dsstne/error.hpp"  // detail::concat

namespace dsstne {

enum class LogLevel : int { Debug = 10, Info = 20, Warning = 30, Error = 40 };

using LogSink = std::function<void(LogLevel, const std::string&)>;

/// Replaces the sink (thread-safe); an empty function restores the default stderr sink.
void set_log_sink(LogSink sink);

/// Sends one message to the sink. Never throws: a failing sink loses the message, not the run.
void log_message(LogLevel level, const std::string& message);

/// `log_event(LogLevel::Info, "epoch ", n, ": error ", e)` (not `log`: that is the math function).
template <typename... Args>
void log_event(LogLevel level, const Args&... args) {
  log_message(level, detail::concat(args...));
}

}  // namespace dsstne
