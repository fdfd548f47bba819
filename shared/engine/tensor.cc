// Shape and Tensor implementation. Why: see tensor.h. Depends on tensor.h, shared/common/check.h.
#include "shared/engine/tensor.h"

#include <cstring>
#include <sstream>

#include "shared/common/check.h"

namespace parley::engine {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  PARLEY_CHECK(dims.size() <= static_cast<std::size_t>(kMaxRank)) << "rank " << dims.size() << " > " << kMaxRank;
  for (std::int64_t d : dims) dims_[static_cast<std::size_t>(rank_++)] = d;
}

Shape Shape::of(const std::int64_t* dims, int rank) {
  PARLEY_CHECK(rank >= 0 && rank <= kMaxRank) << "rank " << rank;
  Shape s;
  for (int i = 0; i < rank; ++i) s.dims_[static_cast<std::size_t>(i)] = dims[i];
  s.rank_ = rank;
  return s;
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::string Shape::to_string() const {
  std::ostringstream s;
  s << '[';
  for (int i = 0; i < rank_; ++i) s << (i ? ", " : "") << dims_[static_cast<std::size_t>(i)];
  s << ']';
  return s.str();
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

Strides contiguous_strides(const Shape& shape) {
  Strides s{};
  std::int64_t acc = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = acc;
    acc *= shape[i];
  }
  return s;
}

namespace {
Status check_shape(const Shape& shape, DType dtype) {
  for (int i = 0; i < shape.rank(); ++i) {
    if (shape[i] < 0) return invalid_argument("negative dimension in shape " + shape.to_string());
  }
  if (is_block_quantized(dtype) && shape.rank() > 0 && shape[shape.rank() - 1] % block_size(dtype) != 0) {
    return invalid_argument("last dimension of a " + std::string(dtype_name(dtype)) + " tensor must be a multiple of " +
                            std::to_string(block_size(dtype)) + ", got shape " + shape.to_string());
  }
  return Status::ok();
}
}  // namespace

Result<Tensor> Tensor::empty(const Shape& shape, DType dtype, Allocator& alloc) {
  PARLEY_RETURN_IF_ERROR(check_shape(shape, dtype));
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = alloc.device();
  const std::int64_t bytes = t.nbytes();
  PARLEY_ASSIGN_OR_RETURN(t.buffer_, Buffer::allocate(alloc, static_cast<std::size_t>(bytes)));
  t.data_ = t.buffer_->data();
  return t;
}

Result<Tensor> Tensor::zeros(const Shape& shape, DType dtype) {
  PARLEY_ASSIGN_OR_RETURN(Tensor t, empty(shape, dtype, cpu_allocator()));
  std::memset(t.data(), 0, static_cast<std::size_t>(t.nbytes()));
  return t;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device) {
  return view(data, shape, contiguous_strides(shape), dtype, device);
}

Tensor Tensor::view(void* data, const Shape& shape, const Strides& strides, DType dtype, Device device) {
  Tensor t;
  t.data_ = data;
  t.shape_ = shape;
  t.strides_ = strides;
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

std::int64_t Tensor::nbytes() const {
  const std::int64_t n = numel();
  return n / block_size(dtype_) * block_bytes(dtype_);
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_) || numel() == 0; }

Tensor Tensor::slice(int dim, std::int64_t begin, std::int64_t end) const {
  PARLEY_CHECK(dim >= 0 && dim < rank()) << "slice dim " << dim << " of rank " << rank();
  PARLEY_CHECK(begin >= 0 && begin <= end && end <= shape_[dim])
      << "slice [" << begin << ", " << end << ") of dim " << dim << " size " << shape_[dim];
  Tensor t = *this;
  t.shape_[dim] = end - begin;
  const std::int64_t offset_values = begin * strides_[static_cast<std::size_t>(dim)];
  const std::int64_t offset_bytes = offset_values / block_size(dtype_) * block_bytes(dtype_);
  PARLEY_CHECK(offset_values % block_size(dtype_) == 0)
      << "slice of a block-quantized tensor must start on a " << block_size(dtype_) << "-value block";
  t.data_ = static_cast<char*>(data_) + offset_bytes;
  return t;
}

Result<Tensor> Tensor::reshape(const Shape& shape) const {
  if (shape.numel() != numel()) {
    return invalid_argument("reshape " + shape_.to_string() + " -> " + shape.to_string() + " changes numel");
  }
  if (!is_contiguous()) return invalid_argument("reshape needs a contiguous tensor");
  PARLEY_RETURN_IF_ERROR(check_shape(shape, dtype_));
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  return t;
}

std::string Tensor::to_string() const {
  return "Tensor(" + std::string(dtype_name(dtype_)) + ", " + shape_.to_string() + ", " + device_.to_string() + ")";
}

}  // namespace parley::engine
