// Registry and metric families: where a process declares its metrics and renders /metrics.
// Exists because prometheus-cpp is not available and every service needs the same thread-safe,
// lock-free-on-the-hot-path metrics with one exposition. Depends on shared/common.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/metrics/metric.h"
#include "shared/metrics/names.h"

namespace parley::metrics {

/// Series (label sets) one family accepts before labels() starts returning a detached child:
/// label values that come from outside (method names off the wire) must not grow memory and the
/// scrape without bound.
inline constexpr std::size_t kDefaultMaxSeriesPerFamily = 10000;

namespace detail {

/// Compares stored label values with a looked-up view without building strings.
struct LabelValuesView {
  const std::string_view* data;
  std::size_t size;
};
struct LabelValuesLess {
  using is_transparent = void;
  bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const {
    return a < b;
  }
  bool operator()(const std::vector<std::string>& a, const LabelValuesView& b) const;
  bool operator()(const LabelValuesView& a, const std::vector<std::string>& b) const;
};

/// What the registry keeps for every family, whatever its metric kind.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  /// Appends HELP, TYPE and one line per sample. Thread-safe.
  virtual void render(std::string& out) const = 0;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

}  // namespace detail

/// One metric name with its help, type and label names, holding one child metric per label
/// value set. Owned by a Registry; references stay valid for the registry's lifetime.
///
/// Threading: all methods are thread-safe. labels() takes a shared lock and a map lookup — cheap,
/// but hot paths should call it once and keep the returned reference (children are never
/// removed, so the reference stays valid).
///
///   auto& requests = registry.counter("parley_requests_total", "Requests handled.",
///                                     {"service", "method", "code"});
///   Counter& ok = requests.labels({"echo", "parley.v1.Echo/Echo", "OK"});  // cache this
///   ok.inc();
template <typename Metric>
class Family final : public detail::FamilyBase {
 public:
  /// The child for these label values, in the order the label names were declared; created on
  /// first use. A wrong number of values is a PARLEY_BUG, and so is going past the family's series
  /// limit: both return a detached child that is never exported (the caller keeps working).
  Metric& labels(std::initializer_list<std::string_view> values) {
    return child(values.begin(), values.size());
  }
  Metric& labels(const std::vector<std::string>& values);
  /// The only child of a family declared without labels.
  Metric& labels() { return child(nullptr, 0); }

  /// Number of exported children.
  std::size_t series_count() const;
  /// Changes the series limit (default kDefaultMaxSeriesPerFamily).
  void set_max_series(std::size_t max_series);
  /// Bucket upper bounds (histograms only; empty otherwise).
  const std::vector<double>& buckets() const { return *bounds_; }

  void render(std::string& out) const override;

  /// Use Registry::counter/gauge/histogram.
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::shared_ptr<const std::vector<double>> bounds);

 private:
  struct Child {
    std::unique_ptr<Metric> metric;
    std::string label_block;  // `a="x",b="y"` (escaped, no braces)
  };

  Metric& child(const std::string_view* values, std::size_t count);
  std::unique_ptr<Metric> make_metric() const;

  std::shared_ptr<const std::vector<double>> bounds_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, Child, detail::LabelValuesLess> children_;  // guarded by mu_
  std::size_t max_series_ = kDefaultMaxSeriesPerFamily;                         // guarded by mu_
  std::unique_ptr<Metric> detached_;  // handed out on misuse; never rendered
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

/// All metric families of a process (or of one test). Not copyable or movable: families and
/// children hand out references into it.
///
/// Registration errors are start-up errors. The try_* forms return them as a Status
/// (kInvalidArgument: bad name, label names, empty help or bad buckets; kAlreadyExists: the name
/// is taken by a family of another type, label names or buckets). names.h's suffix rules keep
/// sample names of different families from colliding (a gauge cannot be called `x_count`).
/// The plain forms PARLEY_CHECK-fail with that message — meant for start-up code with literal
/// names, where a mistake must stop the process at once. Registering the same name again with
/// the same type, labels and buckets returns the existing family (the first help text wins), so
/// two components may both declare a family they share.
///
/// Threading: everything is thread-safe; render() may run while other threads register
/// families and update metrics.
///
///   Registry registry;
///   auto& depth = registry.gauge("parley_queue_depth", "Requests waiting.", {"service"});
///   depth.labels({"echo"}).set_function([&q] { return double(q.size()); });
///   std::string text = registry.render();   // serve with kTextContentType
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Result<CounterFamily*> try_counter(std::string name, std::string help,
                                     std::vector<std::string> label_names = {});
  Result<GaugeFamily*> try_gauge(std::string name, std::string help,
                                 std::vector<std::string> label_names = {});
  /// `buckets`: finite, strictly increasing upper bounds; +Inf is implicit.
  Result<HistogramFamily*> try_histogram(std::string name, std::string help,
                                         std::vector<std::string> label_names = {},
                                         std::vector<double> buckets = default_latency_buckets());

  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> label_names = {},
                             std::vector<double> buckets = default_latency_buckets());

  /// Prometheus text format 0.0.4, families sorted by name, children by label values.
  /// Callback metrics are evaluated here, on the calling thread, with no registry lock held.
  std::string render() const;
  void render_to(std::string& out) const;

  /// Registered family names, sorted.
  std::vector<std::string> family_names() const;

 private:
  Result<detail::FamilyBase*> add(MetricType type, std::string name, std::string help,
                                  std::vector<std::string> label_names, std::vector<double> buckets);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<detail::FamilyBase>> families_;  // guarded by mu_
};

}  // namespace parley::metrics
