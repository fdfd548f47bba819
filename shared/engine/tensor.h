// Shape and Tensor: an n-d array (rank <= 5) with strides, dtype and device, owning or viewing.
// Why: model loaders, engines and tests pass tensors around; kernels take raw pointers (see
// kernels/ops/), and a Tensor is how engines keep those pointers, sizes and owners together.
// Depends on dtype.h, device.h, allocator.h, shared/common/status.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "shared/common/status.h"
#include "shared/engine/allocator.h"
#include "shared/engine/device.h"
#include "shared/engine/dtype.h"

namespace parley::engine {

inline constexpr int kMaxRank = 5;

/// Sizes of up to kMaxRank dimensions, outermost first (row-major: the last dim is contiguous).
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);  ///< PARLEY_CHECKs rank <= kMaxRank
  static Shape of(const std::int64_t* dims, int rank);

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  /// Product of dims (1 for rank 0).
  std::int64_t numel() const;
  const std::int64_t* data() const { return dims_.data(); }
  /// "[2, 3, 4]"
  std::string to_string() const;
  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

/// Strides in ELEMENTS per dimension (for block-quantized dtypes: in values; the innermost dim
/// must then be contiguous and every outer stride a multiple of the 32-value block).
using Strides = std::array<std::int64_t, kMaxRank>;

/// Row-major contiguous strides for `shape`.
Strides contiguous_strides(const Shape& shape);

/// An n-d array. Copying a Tensor copies the handle (shared ownership of the buffer, or a second
/// view of the same memory), never the data. Not synchronized: concurrent writes to the same
/// elements are the caller's problem.
///
///   PARLEY_ASSIGN_OR_RETURN(Tensor x, Tensor::empty({4, 384}, DType::kF32));
///   float* p = x.data_as<float>();
///   Tensor row = x.slice(0, 1, 2);          // a view sharing x's buffer
///   Tensor w = Tensor::view(ptr, {384, 1536}, DType::kI8);   // non-owning
class Tensor {
 public:
  Tensor() = default;

  /// Allocates a contiguous tensor (uninitialized) from `alloc`. Block-quantized dtypes need the
  /// last dim to be a multiple of 32.
  static Result<Tensor> empty(const Shape& shape, DType dtype, Allocator& alloc = cpu_allocator());
  /// CPU tensor filled with zero bytes.
  static Result<Tensor> zeros(const Shape& shape, DType dtype);
  /// Non-owning view of memory the caller keeps alive; contiguous strides unless given.
  static Tensor view(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor view(void* data, const Shape& shape, const Strides& strides, DType dtype,
                     Device device = Device::cpu());

  bool defined() const { return data_ != nullptr || shape_.numel() == 0; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int i) const { return shape_[i]; }
  const Strides& strides() const { return strides_; }
  std::int64_t stride(int i) const { return strides_[static_cast<std::size_t>(i)]; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  std::int64_t numel() const { return shape_.numel(); }
  /// Bytes spanned by a contiguous tensor of this shape and dtype.
  std::int64_t nbytes() const;
  bool is_contiguous() const;
  /// True when this tensor (or a view it came from) holds a reference to its buffer.
  bool owns_memory() const { return buffer_ != nullptr; }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }

  void* data() const { return data_; }
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data_);
  }

  /// View of [begin, end) along `dim` (shares ownership). PARLEY_CHECKs the range.
  Tensor slice(int dim, std::int64_t begin, std::int64_t end) const;
  /// View with a new shape of the same numel; needs a contiguous tensor.
  Result<Tensor> reshape(const Shape& shape) const;
  /// "Tensor(f32, [2, 3], cpu)"
  std::string to_string() const;

 private:
  std::shared_ptr<Buffer> buffer_;
  void* data_ = nullptr;
  Shape shape_;
  Strides strides_{};
  DType dtype_ = DType::kF32;
  Device device_ = Device::cpu();
};

}  // namespace parley::engine
