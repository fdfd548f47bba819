// Metric and label name rules: Prometheus's grammar plus the lint rules promtool enforces.
// Exists so a bad name fails at registration (start-up), not as a rejected scrape in production.
// Depends on shared/common (Status).
#pragma once

#include <string_view>

#include "shared/common/status.h"

namespace parley::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

/// "counter" | "gauge" | "histogram" (the TYPE line's word).
std::string_view metric_type_name(MetricType type);

/// Prometheus grammar: [a-zA-Z_:][a-zA-Z0-9_:]*, and no reserved "__" prefix.
bool is_valid_metric_name(std::string_view name);
/// Prometheus grammar: [a-zA-Z_][a-zA-Z0-9_]*, and no reserved "__" prefix.
bool is_valid_label_name(std::string_view name);

/// What Registry enforces for a family name (kInvalidArgument with the reason otherwise):
/// the Prometheus grammar; Parley's lint (lower snake case, no ':' — colons belong to recording
/// rules); counters end in "_total"; gauges and histograms do not; "_bucket", "_sum", "_count"
/// are reserved for histogram samples.
Status validate_family_name(std::string_view name, MetricType type);
/// The grammar plus lower snake case; "le" and "quantile" are reserved for buckets/quantiles.
Status validate_label_name(std::string_view name);

}  // namespace parley::metrics
