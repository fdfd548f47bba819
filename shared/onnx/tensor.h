// onnx::Tensor: the values an ONNX graph passes between nodes (any rank, f32/i64/i32/bool),
// owning or viewing device memory; plus DataType (ONNX's TensorProto element codes).
// Why: ONNX graphs carry int64 shape vectors and bool masks beside float activations, and ranks
// above engine::Tensor's 5; reshapes are views sharing storage. Depends on shared/engine/device.h,
// kernels/ops/elementwise.h (ElemType), shared/common/status.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/ops/elementwise.h"
#include "shared/common/status.h"
#include "shared/engine/device.h"

namespace parley::onnx {

/// Element types, numbered as ONNX's TensorProto.DataType. The runtime computes with kFloat,
/// kInt64, kInt32 and kBool; kUint8 and kInt8 are quantized values of QDQ models, which only
/// the quantization ops and layout ops read (the loader refuses them elsewhere, naming the
/// node); a model using another type is rejected at load, naming the value.
enum class DataType : std::int32_t { kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kInt32 = 6, kInt64 = 7, kBool = 9 };

/// "float", "int64", ...; "type N" for codes the runtime does not compute with.
std::string data_type_name(int onnx_code);
inline std::string data_type_name(DataType t) { return data_type_name(static_cast<int>(t)); }
/// True for the six types above.
bool is_supported_type(int onnx_code);
std::int64_t data_type_size(DataType t);
kernels::ElemType to_elem_type(DataType t);

using Dims = std::vector<std::int64_t>;
std::int64_t numel(const Dims& dims);
/// "[1, 192, 37]"
std::string dims_string(const Dims& dims);

/// Memory a Tensor points into; returned to its pool (or freed) when the last Tensor goes.
class Storage {
 public:
  Storage(void* data, std::size_t bytes, engine::Device device, std::function<void(void*, std::size_t)> release)
      : data_(data), bytes_(bytes), device_(device), release_(std::move(release)) {}
  ~Storage() {
    if (release_) release_(data_, bytes_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  engine::Device device() const { return device_; }

 private:
  void* data_;
  std::size_t bytes_;
  engine::Device device_;
  std::function<void(void*, std::size_t)> release_;
};

/// An n-d array, contiguous row-major. Copies share the storage (never the bytes).
///
///   auto ids = onnx::Tensor::from_vector<std::int64_t>({1, 5}, {1, 20, 30, 40, 2});
///   const float* p = output.data<float>();          // CPU tensors only
class Tensor {
 public:
  Tensor() = default;
  /// Host (CPU) tensor holding a copy of `values` (numel(dims) must equal values.size()).
  template <typename T>
  static Result<Tensor> from_vector(const Dims& dims, const std::vector<T>& values);
  /// Uninitialised CPU tensor from the process allocator.
  static Result<Tensor> host(DataType type, const Dims& dims);
  /// View of `storage` (shared) at byte `offset`.
  static Tensor view(std::shared_ptr<Storage> storage, std::size_t offset, DataType type, Dims dims);

  bool defined() const { return type_ != DataType::kUndefined; }
  DataType type() const { return type_; }
  const Dims& dims() const { return dims_; }
  int rank() const { return static_cast<int>(dims_.size()); }
  std::int64_t dim(int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t numel() const { return onnx::numel(dims_); }
  std::int64_t bytes() const { return numel() * data_type_size(type_); }
  engine::Device device() const { return storage_ ? storage_->device() : engine::Device::cpu(); }
  void* raw() const { return storage_ ? static_cast<char*>(storage_->data()) + offset_ : nullptr; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw());
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::size_t offset() const { return offset_; }
  /// Same storage, new dims (numel must match; checked by the caller).
  Tensor reshaped(Dims dims) const;
  /// Host copy of the elements as T (T must match type(); CPU tensors only).
  template <typename T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + numel());
  }
  /// "float[1, 192, 37]"
  std::string describe() const;

 private:
  std::shared_ptr<Storage> storage_;
  std::size_t offset_ = 0;
  DataType type_ = DataType::kUndefined;
  Dims dims_;
};

template <typename T>
constexpr DataType data_type_of() {
  if constexpr (std::is_same_v<T, float>) return DataType::kFloat;
  if constexpr (std::is_same_v<T, std::int64_t>) return DataType::kInt64;
  if constexpr (std::is_same_v<T, std::int32_t>) return DataType::kInt32;
  if constexpr (std::is_same_v<T, std::int8_t>) return DataType::kInt8;
  if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, bool>) return DataType::kBool;
  return DataType::kUndefined;
}

template <typename T>
Result<Tensor> Tensor::from_vector(const Dims& dims, const std::vector<T>& values) {
  constexpr DataType t = data_type_of<T>();
  static_assert(t != DataType::kUndefined, "unsupported element type");
  if (onnx::numel(dims) != static_cast<std::int64_t>(values.size())) {
    return invalid_argument("tensor " + dims_string(dims) + " needs " + std::to_string(onnx::numel(dims)) +
                            " values, got " + std::to_string(values.size()));
  }
  PARLEY_ASSIGN_OR_RETURN(Tensor out, host(t, dims));
  T* p = out.data<T>();
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return out;
}

}  // namespace parley::onnx
