// Name validation for metric families and labels (see names.h for the rules).
// Why stricter than Prometheus: promtool's lint is part of our CI; catching its complaints at
// registration keeps every family declared anywhere lint-clean. Depends on shared/common.
#include "shared/metrics/names.h"

#include <string>

namespace parley::metrics {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool has_upper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

}  // namespace

std::string_view metric_type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = is_alpha(c) || c == '_' || c == ':' || (i > 0 && is_digit(c));
    if (!ok) return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = is_alpha(c) || c == '_' || (i > 0 && is_digit(c));
    if (!ok) return false;
  }
  return true;
}

Status validate_family_name(std::string_view name, MetricType type) {
  std::string quoted = "metric name '" + std::string(name) + "'";
  if (!is_valid_metric_name(name)) {
    return invalid_argument(quoted +
                            " is not a valid Prometheus name ([a-zA-Z_:][a-zA-Z0-9_:]*, no '__' prefix)");
  }
  if (has_upper(name)) return invalid_argument(quoted + " must be lower snake_case");
  if (name.find(':') != std::string_view::npos) {
    return invalid_argument(quoted + " must not contain ':' (reserved for recording rules)");
  }
  bool total = ends_with(name, "_total");
  if (type == MetricType::kCounter && !total) {
    return invalid_argument(quoted + " is a counter and must end in '_total'");
  }
  if (type != MetricType::kCounter && total) {
    return invalid_argument(quoted + " ends in '_total', which is reserved for counters");
  }
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (ends_with(name, suffix)) {
      return invalid_argument(quoted + " ends in '" + std::string(suffix) +
                              "', which is reserved for histogram samples");
    }
  }
  return Status::ok();
}

Status validate_label_name(std::string_view name) {
  std::string quoted = "label name '" + std::string(name) + "'";
  if (!is_valid_label_name(name)) {
    return invalid_argument(quoted +
                            " is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no '__' prefix)");
  }
  if (has_upper(name)) return invalid_argument(quoted + " must be lower snake_case");
  if (name == "le" || name == "quantile") {
    return invalid_argument(quoted + " is reserved for histogram buckets and summary quantiles");
  }
  return Status::ok();
}

}  // namespace parley::metrics
