// Exact INT8 and float indexes.
#include "services/qa/index.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace parley::qa {

namespace {

Status check_vector(std::span<const float> v, int dim) {
  if (v.size() != static_cast<std::size_t>(dim)) {
    return invalid_argument("vector has " + std::to_string(v.size()) + " dimensions; the index has " +
                            std::to_string(dim));
  }
  for (float x : v) {
    if (!std::isfinite(x)) return invalid_argument("vector has a non-finite value");
  }
  return Status::ok();
}

bool better(const SearchHit& a, const SearchHit& b) {
  return a.score > b.score || (a.score == b.score && a.row < b.row);
}

// Keeps the k best of a stream of hits (min-heap on "worst kept").
class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) {}
  void push(SearchHit h) {
    if (k_ == 0) return;
    if (heap_.size() < k_) {
      heap_.push_back(h);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (better(h, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = h;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }
  std::vector<SearchHit> take() {
    std::sort(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::vector<SearchHit> heap_;
};

}  // namespace

QuantizedVector quantize_int8(std::span<const float> v) {
  QuantizedVector out;
  float max_abs = 0;
  for (float x : v) max_abs = std::max(max_abs, std::fabs(x));
  out.scale = max_abs > 0 ? max_abs / 127.0f : 1.0f;
  out.q.resize(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.q[i] = static_cast<std::int8_t>(std::clamp(std::lround(v[i] / out.scale), -127L, 127L));
  }
  return out;
}

std::int32_t dot_int8(const std::int8_t* a, const std::int8_t* b, std::size_t n) {
  // Written so the compiler vectorises it (widening multiply-add); exact in int32 for n < 2^17.
  std::int32_t acc = 0;
  for (std::size_t i = 0; i < n; ++i) acc += static_cast<std::int32_t>(a[i]) * static_cast<std::int32_t>(b[i]);
  return acc;
}

Status Int8ExactIndex::add(std::span<const float> vector) {
  PARLEY_RETURN_IF_ERROR(check_vector(vector, dim_));
  QuantizedVector q = quantize_int8(vector);
  codes_.insert(codes_.end(), q.q.begin(), q.q.end());
  scales_.push_back(q.scale);
  return Status::ok();
}

std::vector<SearchHit> Int8ExactIndex::search(std::span<const float> query, std::size_t k) const {
  if (query.size() != static_cast<std::size_t>(dim_)) return {};
  QuantizedVector q = quantize_int8(query);
  TopK top(std::min(k, size()));
  auto n = static_cast<std::size_t>(dim_);
  for (std::size_t r = 0; r < scales_.size(); ++r) {
    std::int32_t d = dot_int8(q.q.data(), codes_.data() + r * n, n);
    top.push({static_cast<std::uint32_t>(r), static_cast<float>(d) * q.scale * scales_[r]});
  }
  return top.take();
}

Status FloatExactIndex::add(std::span<const float> vector) {
  PARLEY_RETURN_IF_ERROR(check_vector(vector, dim_));
  data_.insert(data_.end(), vector.begin(), vector.end());
  return Status::ok();
}

std::vector<SearchHit> FloatExactIndex::search(std::span<const float> query, std::size_t k) const {
  if (query.size() != static_cast<std::size_t>(dim_)) return {};
  TopK top(std::min(k, size()));
  auto n = static_cast<std::size_t>(dim_);
  for (std::size_t r = 0; r < size(); ++r) {
    double d = 0;
    for (std::size_t i = 0; i < n; ++i) d += double(query[i]) * data_[r * n + i];
    top.push({static_cast<std::uint32_t>(r), static_cast<float>(d)});
  }
  return top.take();
}

Result<std::unique_ptr<Index>> make_index(std::string_view kind, int dim) {
  if (dim <= 0) return invalid_argument("index dimension must be positive");
  if (kind == "int8-exact") return std::unique_ptr<Index>(new Int8ExactIndex(dim));
  if (kind == "float-exact") return std::unique_ptr<Index>(new FloatExactIndex(dim));
  return invalid_argument("unknown index kind '" + std::string(kind) + "' (known: int8-exact, float-exact)");
}

}  // namespace parley::qa
