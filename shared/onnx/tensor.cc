// onnx::Tensor and DataType helpers. Why: see tensor.h. Depends on tensor.h,
// shared/engine/allocator.h (host tensors come from the process CPU allocator).
#include "shared/onnx/tensor.h"

#include "shared/engine/allocator.h"

namespace parley::onnx {

std::string data_type_name(int code) {
  switch (code) {
    case 0: return "undefined";
    case 1: return "float";
    case 2: return "uint8";
    case 3: return "int8";
    case 4: return "uint16";
    case 5: return "int16";
    case 6: return "int32";
    case 7: return "int64";
    case 8: return "string";
    case 9: return "bool";
    case 10: return "float16";
    case 11: return "double";
    case 12: return "uint32";
    case 13: return "uint64";
    case 16: return "bfloat16";
    default: return "type " + std::to_string(code);
  }
}

bool is_supported_type(int code) { return code == 1 || code == 2 || code == 3 || code == 6 || code == 7 || code == 9; }

std::int64_t data_type_size(DataType t) {
  switch (t) {
    case DataType::kFloat: return 4;
    case DataType::kInt32: return 4;
    case DataType::kInt64: return 8;
    case DataType::kBool: return 1;
    case DataType::kUint8: return 1;
    case DataType::kInt8: return 1;
    case DataType::kUndefined: return 0;
  }
  return 0;
}

kernels::ElemType to_elem_type(DataType t) {
  switch (t) {
    case DataType::kInt64: return kernels::ElemType::kI64;
    case DataType::kInt32: return kernels::ElemType::kI32;
    case DataType::kBool: return kernels::ElemType::kBool;
    default: return kernels::ElemType::kF32;
  }
}

std::int64_t numel(const Dims& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

std::string dims_string(const Dims& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

Result<Tensor> Tensor::host(DataType type, const Dims& dims) {
  for (std::int64_t d : dims) {
    if (d < 0) return invalid_argument("tensor dims " + dims_string(dims) + " are negative");
  }
  const std::size_t bytes = static_cast<std::size_t>(onnx::numel(dims) * data_type_size(type));
  engine::Allocator& alloc = engine::cpu_allocator();
  PARLEY_ASSIGN_OR_RETURN(void* p, alloc.allocate(bytes == 0 ? 1 : bytes, engine::kCpuAlignment));
  auto storage = std::make_shared<Storage>(p, bytes, engine::Device::cpu(),
                                           [&alloc](void* q, std::size_t n) { alloc.deallocate(q, n == 0 ? 1 : n); });
  return view(std::move(storage), 0, type, dims);
}

Tensor Tensor::view(std::shared_ptr<Storage> storage, std::size_t offset, DataType type, Dims dims) {
  Tensor t;
  t.storage_ = std::move(storage);
  t.offset_ = offset;
  t.type_ = type;
  t.dims_ = std::move(dims);
  return t;
}

Tensor Tensor::reshaped(Dims dims) const {
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

std::string Tensor::describe() const { return data_type_name(type_) + dims_string(dims_); }

}  // namespace parley::onnx
