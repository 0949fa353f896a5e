// SPDX-License-Identifier: Apache-2.0
/// @file config_json.cpp
/// @brief Typed reads of JSON values for the network parser, with messages naming the key.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "config_json.hpp"

namespace dsstne::config_detail {
namespace {

/// "string \"0.8\"" — what the user actually wrote, shortened so messages stay one line.
std::string describe(const Json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

}  // namespace

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string layer_key(const std::string& key, const std::string& layer) {
  return detail::concat("key '", key, "' in layer '", layer, "'");
}

float get_float(const Json& v, const std::string& what) {
  DSSTNE_EXPECTS(v.is_number(), what, " must be a number, not ", describe(v));
  const double d = v.get<double>();
  // A value float32 cannot hold would become infinity, which no model file can store.
  DSSTNE_EXPECTS(std::isfinite(d) && std::fabs(d) <= double(std::numeric_limits<float>::max()),
                 what, " is beyond the range of a 32-bit float (|x| <= 3.4e38): ", describe(v));
  return float(d);
}

uint32_t get_uint(const Json& v, const std::string& what, uint32_t max) {
  DSSTNE_EXPECTS(v.is_number(), what, " must be a non-negative integer, not ", describe(v));
  const double d = v.get<double>();
  // DSSTNE truncated 7.9 to 7 without a word; a fraction is almost always a typo.
  DSSTNE_EXPECTS(std::trunc(d) == d, what, " must be a whole number, not ", describe(v));
  DSSTNE_EXPECTS(d >= 0.0 && d <= double(max), what, " must be an integer from 0 to ", max,
                 ", not ", describe(v));
  return uint32_t(d);
}

bool get_bool(const Json& v, const std::string& what) {
  if (v.is_boolean()) return v.get<bool>();
  DSSTNE_EXPECTS(v.is_number(), what, " must be true or false, not ", describe(v));
  return v.get<double>() != 0.0;
}

std::string get_string(const Json& v, const std::string& what) {
  DSSTNE_EXPECTS(v.is_string(), what, " must be a string, not ", describe(v));
  std::string s = v.get<std::string>();
  // Names travel into NetCDF text attributes and C strings, where a NUL ends them.
  DSSTNE_EXPECTS(s.find('\0') == std::string::npos, what, " contains a NUL character (\\u0000)");
  return s;
}

std::vector<std::string> get_string_list(const Json& v, const std::string& what) {
  if (v.is_string()) return {v.get<std::string>()};
  DSSTNE_EXPECTS(v.is_array(), what, " must be a layer name or an array of layer names, not ",
                 describe(v));
  std::vector<std::string> names;
  for (std::size_t i = 0; i < v.size(); ++i)
    names.push_back(get_string(v[i], detail::concat("entry ", i, " of ", what)));
  return names;
}

void expect_object(const Json& v, const std::string& what) {
  DSSTNE_EXPECTS(v.is_object(), what, " must be a JSON object, not ", describe(v));
}

}  // namespace dsstne::config_detail
