// Registry, families and the text exposition (Prometheus text format 0.0.4).
// Why render outside the locks: callback metrics run user code at scrape time, and a scrape must
// never stall registration or the hot path. Depends on metric, names, text_format, shared/common.
#include "shared/metrics/registry.h"

#include <algorithm>
#include <cmath>

#include "shared/common/check.h"
#include "shared/metrics/text_format.h"

namespace parley::metrics {
namespace detail {

bool LabelValuesLess::operator()(const std::vector<std::string>& a, const LabelValuesView& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.data, b.data + b.size,
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

bool LabelValuesLess::operator()(const LabelValuesView& a, const std::vector<std::string>& b) const {
  return std::lexicographical_compare(a.data, a.data + a.size, b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

}  // namespace detail

namespace {

void append_sample_head(std::string& out, const std::string& name, std::string_view suffix,
                        const std::string& label_block) {
  out += name;
  out += suffix;
  if (!label_block.empty()) {
    out += '{';
    out += label_block;
    out += '}';
  }
  out += ' ';
}

void render_header(std::string& out, const detail::FamilyBase& f) {
  out += "# HELP ";
  out += f.name();
  out += ' ';
  append_escaped_help(out, f.help());
  out += "\n# TYPE ";
  out += f.name();
  out += ' ';
  out += metric_type_name(f.type());
  out += '\n';
}

void render_child(std::string& out, const detail::FamilyBase& f, const std::string& block, const Counter& c) {
  append_sample_head(out, f.name(), "", block);
  append_double(out, c.value());
  out += '\n';
}

void render_child(std::string& out, const detail::FamilyBase& f, const std::string& block, const Gauge& g) {
  append_sample_head(out, f.name(), "", block);
  append_double(out, g.value());
  out += '\n';
}

void render_child(std::string& out, const detail::FamilyBase& f, const std::string& block, const Histogram& h) {
  Histogram::Snapshot s = h.snapshot();
  for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
    out += f.name();
    out += "_bucket{";
    if (!block.empty()) {
      out += block;
      out += ',';
    }
    out += "le=\"";
    if (i < s.bounds.size()) {
      append_double(out, s.bounds[i]);
    } else {
      out += "+Inf";
    }
    out += "\"} ";
    out += std::to_string(s.cumulative[i]);
    out += '\n';
  }
  append_sample_head(out, f.name(), "_sum", block);
  append_double(out, s.sum);
  out += '\n';
  append_sample_head(out, f.name(), "_count", block);
  out += std::to_string(s.count);
  out += '\n';
}

}  // namespace

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names,
                       std::shared_ptr<const std::vector<double>> bounds)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      bounds_(bounds ? std::move(bounds) : std::make_shared<const std::vector<double>>()) {
  detached_ = make_metric();
  // A family without labels has exactly one child, exported from the start (as `name 0`).
  if (this->label_names().empty()) child(nullptr, 0);
}

template <typename Metric>
std::unique_ptr<Metric> Family<Metric>::make_metric() const {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::unique_ptr<Metric>(new Histogram(bounds_));
  } else {
    return std::unique_ptr<Metric>(new Metric());
  }
}

template <typename Metric>
Metric& Family<Metric>::labels(const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return child(views.data(), views.size());
}

template <typename Metric>
Metric& Family<Metric>::child(const std::string_view* values, std::size_t count) {
  if (count != label_names().size()) {
    note_bug();
    PARLEY_LOG_EVERY_MS(kError, 10000) << "BUG: metric " << name() << " takes " << label_names().size()
                                       << " label values, got " << count << "; sample dropped";
    return *detached_;
  }
  detail::LabelValuesView key{values, count};
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = children_.find(key);
    if (it != children_.end()) return *it->second.metric;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = children_.find(key);
  if (it != children_.end()) return *it->second.metric;
  if (children_.size() >= max_series_) {
    PARLEY_LOG_EVERY_MS(kWarn, 10000) << "metric " << name() << " reached its limit of " << max_series_
                                      << " series; new label values are not exported";
    return *detached_;
  }
  Child c;
  c.metric = make_metric();
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) c.label_block += ',';
    c.label_block += label_names()[i];
    c.label_block += "=\"";
    append_escaped_label_value(c.label_block, values[i]);
    c.label_block += '"';
  }
  std::vector<std::string> stored(values, values + count);
  auto [pos, inserted] = children_.emplace(std::move(stored), std::move(c));
  (void)inserted;
  return *pos->second.metric;
}

template <typename Metric>
std::size_t Family<Metric>::series_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return children_.size();
}

template <typename Metric>
void Family<Metric>::set_max_series(std::size_t max_series) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  max_series_ = max_series;
}

template <typename Metric>
void Family<Metric>::render(std::string& out) const {
  // Children are never removed, so pointers taken under the lock stay valid after it.
  std::vector<std::pair<const std::string*, const Metric*>> snapshot;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    snapshot.reserve(children_.size());
    for (const auto& [values, c] : children_) snapshot.emplace_back(&c.label_block, c.metric.get());
  }
  render_header(out, *this);
  for (const auto& [block, metric] : snapshot) render_child(out, *this, *block, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Registry() = default;
Registry::~Registry() = default;

Result<detail::FamilyBase*> Registry::add(MetricType type, std::string name, std::string help,
                                          std::vector<std::string> label_names, std::vector<double> buckets) {
  PARLEY_RETURN_IF_ERROR(validate_family_name(name, type));
  if (help.empty()) return invalid_argument("metric '" + name + "' needs help text");
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    PARLEY_RETURN_IF_ERROR(validate_label_name(label_names[i]).with_context("metric '" + name + "'"));
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[i] == label_names[j]) {
        return invalid_argument("metric '" + name + "': label name '" + label_names[i] + "' is repeated");
      }
    }
  }
  if (type == MetricType::kHistogram) {
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      if (!std::isfinite(buckets[i])) {
        return invalid_argument("histogram '" + name + "': bucket bounds must be finite (+Inf is implicit)");
      }
      if (i > 0 && !(buckets[i] > buckets[i - 1])) {
        return invalid_argument("histogram '" + name + "': bucket bounds must be strictly increasing");
      }
    }
  } else {
    buckets.clear();
  }

  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    detail::FamilyBase* existing = it->second.get();
    bool same_buckets = true;
    if (type == MetricType::kHistogram && existing->type() == MetricType::kHistogram) {
      same_buckets = static_cast<HistogramFamily*>(existing)->buckets() == buckets;
    }
    if (existing->type() != type || existing->label_names() != label_names || !same_buckets) {
      return Status(StatusCode::kAlreadyExists,
                    "metric '" + name + "' is already registered as a " +
                        std::string(metric_type_name(existing->type())) +
                        " with different label names or buckets");
    }
    return existing;
  }
  std::unique_ptr<detail::FamilyBase> family;
  switch (type) {
    case MetricType::kCounter:
      family = std::make_unique<CounterFamily>(name, std::move(help), type, std::move(label_names), nullptr);
      break;
    case MetricType::kGauge:
      family = std::make_unique<GaugeFamily>(name, std::move(help), type, std::move(label_names), nullptr);
      break;
    case MetricType::kHistogram:
      family = std::make_unique<HistogramFamily>(
          name, std::move(help), type, std::move(label_names),
          std::make_shared<const std::vector<double>>(std::move(buckets)));
      break;
  }
  detail::FamilyBase* raw = family.get();
  families_.emplace(std::move(name), std::move(family));
  return raw;
}

Result<CounterFamily*> Registry::try_counter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  PARLEY_ASSIGN_OR_RETURN(detail::FamilyBase * f, add(MetricType::kCounter, std::move(name), std::move(help),
                                                      std::move(label_names), {}));
  return static_cast<CounterFamily*>(f);
}

Result<GaugeFamily*> Registry::try_gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  PARLEY_ASSIGN_OR_RETURN(detail::FamilyBase * f, add(MetricType::kGauge, std::move(name), std::move(help),
                                                      std::move(label_names), {}));
  return static_cast<GaugeFamily*>(f);
}

Result<HistogramFamily*> Registry::try_histogram(std::string name, std::string help,
                                                 std::vector<std::string> label_names,
                                                 std::vector<double> buckets) {
  PARLEY_ASSIGN_OR_RETURN(detail::FamilyBase * f, add(MetricType::kHistogram, std::move(name), std::move(help),
                                                      std::move(label_names), std::move(buckets)));
  return static_cast<HistogramFamily*>(f);
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  auto r = try_counter(std::move(name), std::move(help), std::move(label_names));
  PARLEY_CHECK(r.ok()) << r.status().to_string();
  return **r;
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  auto r = try_gauge(std::move(name), std::move(help), std::move(label_names));
  PARLEY_CHECK(r.ok()) << r.status().to_string();
  return **r;
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                     std::vector<double> buckets) {
  auto r = try_histogram(std::move(name), std::move(help), std::move(label_names), std::move(buckets));
  PARLEY_CHECK(r.ok()) << r.status().to_string();
  return **r;
}

std::string Registry::render() const {
  std::string out;
  render_to(out);
  return out;
}

void Registry::render_to(std::string& out) const {
  std::vector<const detail::FamilyBase*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, f] : families_) families.push_back(f.get());
  }
  for (const auto* f : families) f->render(out);
}

std::vector<std::string> Registry::family_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, f] : families_) names.push_back(name);
  return names;
}

}  // namespace parley::metrics
