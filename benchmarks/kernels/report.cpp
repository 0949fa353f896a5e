// SPDX-License-Identifier: Apache-2.0
#include "report.hpp"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "dsstne/error.hpp"
#include "dsstne/memory_budget.hpp"

namespace dsstne::bench {
namespace {

std::string format(const char* spec, double v) {
  char text[64];
  std::snprintf(text, sizeof text, spec, v);
  return text;
}

/// 0 for a call too short for the clock to see.
double gb_per_s(const Result& r) { return r.median_ms > 0 ? r.bytes / (r.median_ms * 1e6) : 0.0; }

/// The measured fraction of the copy's bandwidth, or −1 when there is no measurement.
double fraction_of(const Result& r, const Bench& bench) {
  return bench.bandwidth_gbps() > 0 ? gb_per_s(r) / bench.bandwidth_gbps() : -1.0;
}

std::string shapes_line(const Shapes& s) {
  std::string ks;
  for (int64_t k : s.ks) ks += (ks.empty() ? "" : ", ") + count_of(k);
  return "batch " + count_of(s.rows) + " rows, " + count_of(s.items) + " items, hidden " +
         count_of(s.hidden) + ", ~" + count_of(s.nnz_per_row) + " entries per row; top-K " +
         count_of(s.topk_rows) + " rows, k = " + ks;
}

}  // namespace

void write_markdown(std::ostream& out, const RunInfo& info, const Bench& bench) {
  const Options& o = info.options;
  out << "# dsstne kernels: " << info.device << ", preset " << o.preset << "\n\n"
      << shapes_line(o.shapes) << ".\n"
      << "Median of " << o.iterations << " timed calls after " << o.warmup
      << (o.warmup == 1 ? " warm-up call; " : " warm-up calls; ") << format_bytes(double(info.scrub_bytes))
      << " overwritten before each call so that inputs come from memory, not cache. GB = 1e9 "
         "bytes, the least each kernel must move (byte models in benchmarks/kernels/*_cases.cpp).\n"
      << "Bandwidth reference: a copy within the device, read + write: "
      << (bench.bandwidth_gbps() > 0 ? format("%.1f GB/s", bench.bandwidth_gbps())
                                     : std::string("not measured"))
      << " (a kernel that only streams can pass it by a few percent).\n\n"
      << "| kernel | variant | shape | ms | GB moved | GB/s | % of copy | notes |\n"
      << "|---|---|---|--:|--:|--:|--:|---|\n";
  for (const Result& r : bench.results()) {
    out << "| " << r.kernel << " | " << r.variant << " | ";
    if (!r.error.empty()) {
      out << r.shape << " | — | — | — | — | failed: " << r.error << " |\n";
      continue;
    }
    const double fraction = fraction_of(r, bench);
    out << r.shape << " | " << format(r.median_ms < 1 ? "%.4f" : "%.3f", r.median_ms) << " | "
        << format("%.4g", r.bytes / 1e9) << " | " << format("%.1f", gb_per_s(r)) << " | "
        << (fraction >= 0 ? format("%.1f", 100 * fraction) : std::string("—")) << " | " << r.notes
        << " |\n";
  }
}

void write_json(const std::string& path, const RunInfo& info, const Bench& bench) {
  const Options& o = info.options;
  const Shapes& s = o.shapes;
  nlohmann::json doc = {
      {"device", info.device},
      {"backend", o.backend},
      {"preset", o.preset},
      {"shapes",
       {{"rows", s.rows},
        {"items", s.items},
        {"hidden", s.hidden},
        {"nnz_per_row", s.nnz_per_row},
        {"topk_rows", s.topk_rows},
        {"ks", s.ks}}},
      {"iterations", o.iterations},
      {"warmup", o.warmup},
      {"scrub_bytes", info.scrub_bytes},
      {"seed", o.seed},
      {"bandwidth_gbps", bench.bandwidth_gbps()},
      {"results", nlohmann::json::array()}};
  for (const Result& r : bench.results()) {
    nlohmann::json row = {{"kernel", r.kernel}, {"variant", r.variant}, {"shape", r.shape}};
    if (!r.error.empty()) {
      row["error"] = r.error;
    } else {
      row["median_ms"] = r.median_ms;
      row["best_ms"] = r.best_ms;
      row["bytes"] = r.bytes;
      row["gbps"] = gb_per_s(r);
      row["fraction_of_bandwidth"] = fraction_of(r, bench);
      row["notes"] = r.notes;
    }
    doc["results"].push_back(std::move(row));
  }
  std::ofstream file(path);
  DSSTNE_EXPECTS(file.good(), "--json: cannot open '", path, "' for writing");
  file << doc.dump(2) << "\n";
  file.close();
  DSSTNE_EXPECTS(file.good(), "--json: writing '", path, "' failed");
}

}  // namespace dsstne::bench
