// SPDX-License-Identifier: Apache-2.0
#include "dsstne/memory_budget.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

namespace dsstne {
namespace {

/// The kernel's estimate of memory available without swapping, or -1.
double mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024.0;
  const long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? double(pages) * double(size) : -1.0;
}

/// A number read from a cgroup file, or -1 ("max", missing, unreadable).
double read_number(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1.0;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return -1.0;
  }
}

/// What the process's cgroup (v2, else v1) still allows, or -1 when unlimited or unknown.
double cgroup_remaining() {
  double limit = read_number("/sys/fs/cgroup/memory.max");
  double used = read_number("/sys/fs/cgroup/memory.current");
  if (limit < 0) {
    limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  // cgroup v1 reports "unlimited" as a number near 2^63.
  if (limit < 0 || limit > 1e18) return -1.0;
  return std::max(0.0, limit - std::max(0.0, used));
}

}  // namespace

double available_bytes(const Context& ctx) {
  if (ctx.is_cuda()) {
    std::size_t free_bytes = 0, total = 0;
    cuda::memory_info(ctx, &free_bytes, &total);
    return double(free_bytes);
  }
  const double host = mem_available(), group = cgroup_remaining();
  if (host < 0) return group;
  return group < 0 ? host : std::min(host, group);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 6) {
    bytes /= 1000.0;
    ++u;
  }
  char text[64];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return text;
}

void check_fits(Device device, const std::vector<MemoryItem>& items, const std::string& purpose) {
  DSSTNE_EXPECTS(device == Device::CPU, "check_fits(Device::CUDA) names no GPU: pass the context");
  check_fits(Context(), items, purpose);
}

void check_fits(const Context& ctx, const std::vector<MemoryItem>& items,
                const std::string& purpose) {
  if (items.empty()) return;
  double total = 0;
  const MemoryItem* largest = &items.front();
  for (const MemoryItem& item : items) {
    total += item.bytes;
    if (item.bytes > largest->bytes) largest = &item;
  }
  const double available = available_bytes(ctx);
  if (available < 0 || total <= available) return;
  const char* where = ctx.is_cuda() ? "GPU" : "host";
  const std::string on = ctx.is_cuda() ? " on " + ctx.device_string() : std::string();
  const std::string part = items.size() == 1 ? std::string()
                                             : detail::concat("; the largest part is ",
                                                              largest->what, ": ",
                                                              format_bytes(largest->bytes));
  throw OutOfMemory(detail::concat(purpose, " needs ", format_bytes(total), " of ", where,
                                   " memory", on, " but only ", format_bytes(available),
                                   " are available", part));
}

}  // namespace dsstne
