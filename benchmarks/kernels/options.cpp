// SPDX-License-Identifier: Apache-2.0
#include "options.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "dsstne/error.hpp"

namespace dsstne::bench {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct Preset {
  Shapes shapes;
  std::size_t copy_bytes;
  bool small;  ///< a smoke test: few calls, small copy and scrub
};

// wide: a catalogue of a million items (the top-K target of 1,024 × 1M); movielens: the
// MovieLens-20M autoencoder of benchmarks/bench_movielens.py; tiny: a CTest smoke test that
// runs every kernel on the CPU in a fraction of a second.
const std::map<std::string, Preset>& presets() {
  static const std::map<std::string, Preset> table = {
      {"wide", {{256, 1000000, 256, 50, 1024, {10, 100, 1000}}, 1024 * kMiB, false}},
      {"movielens", {{256, 26744, 1024, 140, 1024, {10, 100, 1000}}, 1024 * kMiB, false}},
      {"tiny", {{16, 2000, 32, 8, 16, {10, 100, 1000}}, 8 * kMiB, true}},
  };
  return table;
}

int64_t parse_int(const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
  std::size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DSSTNE_EXPECTS(used == text.size() && !text.empty(), flag, ": '", text, "' is not an integer");
  DSSTNE_EXPECTS(v >= lo && v <= hi, flag, ": ", v, " is outside [", lo, ", ", hi, "]");
  return v;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

const std::vector<std::string>& kernel_names() {
  static const std::vector<std::string> names = {
      "sparse_product", "sparse_transposed_product", "output_error", "output_error_sum",
      "output_delta",   "output_pass",               "topk",         "update_weights",
      "column_mean"};
  return names;
}

std::string usage() {
  return "usage: bench_kernels [--backend cpu|cuda] [--device N] [--preset wide|movielens|tiny]\n"
         "         [--rows N] [--items N] [--hidden N] [--nnz N] [--topk-rows N] [--k K1,K2,...]\n"
         "         [--iters N] [--warmup N] [--only NAME[,NAME...]] [--json FILE]\n"
         "         [--copy-mib N] [--scrub-mib N] [--seed N]\n"
         "Times each sparse, loss, top-K and update kernel of libdsstne (median of --iters calls,\n"
         "caches overwritten before each) and reports GB/s against a device copy's bandwidth.\n"
         "--nnz is the mean stored entries per row; --only takes kernel names:\n  " +
         [] {
           std::string list;
           for (const std::string& n : kernel_names()) list += (list.empty() ? "" : ", ") + n;
           return list;
         }() +
         "\n";
}

Options parse_options(int argc, char** argv) {
  std::map<std::string, std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      Options o;
      o.help = true;
      return o;
    }
    DSSTNE_EXPECTS(flag.rfind("--", 0) == 0, "unexpected argument '", flag, "' (see --help)");
    std::string value;
    if (const std::size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else {
      DSSTNE_EXPECTS(i + 1 < argc, flag, " needs a value");
      value = argv[++i];
    }
    given[flag] = value;
  }
  auto take = [&](const std::string& flag) -> std::optional<std::string> {
    const auto it = given.find(flag);
    if (it == given.end()) return std::nullopt;
    std::string v = it->second;
    given.erase(it);
    return v;
  };

  Options o;
  if (auto v = take("--backend")) o.backend = *v;
  DSSTNE_EXPECTS(o.backend == "cpu" || o.backend == "cuda", "--backend: '", o.backend,
                 "' is neither cpu nor cuda");
  if (auto v = take("--device")) o.device = int(parse_int("--device", *v, 0, 1023));
  if (auto v = take("--preset")) o.preset = *v;
  const auto preset = presets().find(o.preset);
  DSSTNE_EXPECTS(preset != presets().end(), "--preset: unknown preset '", o.preset,
                 "' (wide, movielens or tiny)");
  o.shapes = preset->second.shapes;
  o.copy_bytes = preset->second.copy_bytes;
  const bool cuda = o.backend == "cuda";
  o.iterations = preset->second.small ? 3 : (cuda ? 50 : 10);
  o.warmup = preset->second.small ? 1 : (cuda ? 5 : 2);
  if (preset->second.small) o.scrub_bytes = 1 * kMiB;

  // Indices are 32-bit, and top-K reserves 0xFFFFFFFF for its padding.
  constexpr int64_t kMaxItems = (int64_t{1} << 32) - 2;
  constexpr int64_t kMaxCount = int64_t{1} << 40;
  Shapes& s = o.shapes;
  if (auto v = take("--rows")) s.rows = parse_int("--rows", *v, 1, INT32_MAX - 1);
  if (auto v = take("--items")) s.items = parse_int("--items", *v, 1, kMaxItems);
  if (auto v = take("--hidden")) s.hidden = parse_int("--hidden", *v, 1, kMaxCount);
  if (auto v = take("--nnz")) s.nnz_per_row = parse_int("--nnz", *v, 1, kMaxCount);
  if (auto v = take("--topk-rows")) s.topk_rows = parse_int("--topk-rows", *v, 1, INT32_MAX - 1);
  if (auto v = take("--k")) {
    s.ks.clear();
    for (const std::string& k : split_list(*v)) s.ks.push_back(parse_int("--k", k, 1, kMaxCount));
    DSSTNE_EXPECTS(!s.ks.empty(), "--k: no value in '", *v, "'");
  }
  DSSTNE_EXPECTS(s.nnz_per_row <= s.items, "--nnz: ", s.nnz_per_row,
                 " entries per row cannot be distinct among ", s.items, " items");
  if (auto v = take("--iters")) o.iterations = int(parse_int("--iters", *v, 1, 100000));
  if (auto v = take("--warmup")) o.warmup = int(parse_int("--warmup", *v, 1, 100000));
  if (auto v = take("--only")) {
    o.only = split_list(*v);
    DSSTNE_EXPECTS(!o.only.empty(), "--only: no kernel name in '", *v, "'");
    for (const std::string& name : o.only) {
      const auto& known = kernel_names();
      DSSTNE_EXPECTS(std::find(known.begin(), known.end(), name) != known.end(),
                     "--only: unknown kernel '", name, "' (see --help)");
    }
  }
  if (auto v = take("--json")) o.json_path = *v;
  if (auto v = take("--copy-mib")) {
    o.copy_bytes = std::size_t(parse_int("--copy-mib", *v, 1, 1 << 20)) * kMiB;
  }
  if (auto v = take("--scrub-mib")) {
    o.scrub_bytes = std::size_t(parse_int("--scrub-mib", *v, 1, 1 << 20)) * kMiB;
  }
  if (auto v = take("--seed")) o.seed = uint64_t(parse_int("--seed", *v, 0, INT64_MAX));
  DSSTNE_EXPECTS(given.empty(), "unknown flag ", given.empty() ? "" : given.begin()->first,
                 " (see --help)");
  return o;
}

}  // namespace dsstne::bench
