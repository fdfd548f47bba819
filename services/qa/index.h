// Index: nearest-neighbour search over passage embeddings, behind one interface so an ANN index
// (HNSW, IVF) can replace exact search without touching retrieval. Int8ExactIndex is the
// default: per-row symmetric INT8 quantization, exhaustive int32 dot products. Depends on common.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::qa {

struct SearchHit {
  std::uint32_t row = 0;  ///< insertion order, 0-based
  float score = 0;        ///< approximate dot product (cosine for normalised vectors)
};

/// Vectors in, top-k by dot product out. Threading: add() is not thread-safe; search() is
/// (const, many readers) once adds are done — knowledge bases build an index, then share it
/// read-only.
class Index {
 public:
  virtual ~Index() = default;
  virtual std::string kind() const = 0;
  virtual int dim() const = 0;
  virtual std::size_t size() const = 0;
  /// Appends one vector (row = size() before the call). INVALID_ARGUMENT on a wrong length or
  /// non-finite values.
  virtual Status add(std::span<const float> vector) = 0;
  /// The k best rows, best first (ties: lower row first). k larger than size() returns size().
  virtual std::vector<SearchHit> search(std::span<const float> query, std::size_t k) const = 0;
  /// Bytes held by the vectors (for metrics and limits).
  virtual std::size_t memory_bytes() const = 0;
};

/// One vector quantized to int8 with a scale: x ≈ q * scale, scale = max|x| / 127.
struct QuantizedVector {
  std::vector<std::int8_t> q;
  float scale = 0;
};
QuantizedVector quantize_int8(std::span<const float> v);
/// Dot product of two int8 vectors of equal length, exact in int32.
std::int32_t dot_int8(const std::int8_t* a, const std::int8_t* b, std::size_t n);

/// Exhaustive INT8 search: 1 byte per dimension plus a float scale per row; the query is
/// quantized the same way. Score error is bounded by the two quantization steps (about 1e-2 for
/// unit vectors of a few hundred dimensions; see tests/unit/services/qa/index_test.cc).
class Int8ExactIndex final : public Index {
 public:
  explicit Int8ExactIndex(int dim) : dim_(dim) {}
  std::string kind() const override { return "int8-exact"; }
  int dim() const override { return dim_; }
  std::size_t size() const override { return scales_.size(); }
  Status add(std::span<const float> vector) override;
  std::vector<SearchHit> search(std::span<const float> query, std::size_t k) const override;
  std::size_t memory_bytes() const override { return codes_.size() + scales_.size() * sizeof(float); }

 private:
  int dim_;
  std::vector<std::int8_t> codes_;  // row-major
  std::vector<float> scales_;
};

/// Exhaustive float32 search: the reference the INT8 index is tested against.
class FloatExactIndex final : public Index {
 public:
  explicit FloatExactIndex(int dim) : dim_(dim) {}
  std::string kind() const override { return "float-exact"; }
  int dim() const override { return dim_; }
  std::size_t size() const override { return dim_ == 0 ? 0 : data_.size() / static_cast<std::size_t>(dim_); }
  Status add(std::span<const float> vector) override;
  std::vector<SearchHit> search(std::span<const float> query, std::size_t k) const override;
  std::size_t memory_bytes() const override { return data_.size() * sizeof(float); }

 private:
  int dim_;
  std::vector<float> data_;
};

/// "int8-exact" (default) or "float-exact"; INVALID_ARGUMENT listing the kinds otherwise.
/// To add a kind: implement Index, add a branch here, add it to index_test.cc's exactness suite.
Result<std::unique_ptr<Index>> make_index(std::string_view kind, int dim);

}  // namespace parley::qa
