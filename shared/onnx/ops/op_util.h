// Helpers the op files share: broadcasting, strides, reading small index tensors on the host,
// strided copies through the backend, and load-time inference shortcuts.
// Why: keeps each op a few lines of ONNX semantics. Depends on op_registry.h.
#pragma once

#include <string>
#include <vector>

#include "shared/onnx/ops/op_registry.h"

namespace parley::onnx::ops {

inline Status bad(const std::string& what) { return invalid_argument(what); }

/// Numpy-style broadcast of two shapes; InvalidArgument naming both when they do not match.
Result<Dims> broadcast(const Dims& a, const Dims& b);
/// Element strides of `in` (contiguous) seen through `out` dims (right-aligned; 0 = broadcast).
void broadcast_strides(const Dims& in, const Dims& out, std::int64_t* strides);
std::vector<std::int64_t> contiguous_strides(const Dims& dims);
/// Axis in [-rank, rank) -> [0, rank); InvalidArgument otherwise.
Result<int> normalize_axis(std::int64_t axis, int rank, const char* what = "axis");

/// The elements of an int64 or int32 tensor as int64, read on the host.
Result<std::vector<std::int64_t>> read_ints(const Tensor& t, RunContext& ctx);
/// One float from a float/int tensor (a scalar or 1-element tensor).
Result<float> read_scalar(const Tensor& t, RunContext& ctx);

/// dst[dst_off + sum i*dst_strides] = src[src_off + sum i*src_strides] over `dims` (elements).
Status strided_copy(RunContext& ctx, const Tensor& src, std::int64_t src_off, const std::int64_t* src_strides,
                    Tensor& dst, std::int64_t dst_off, const std::int64_t* dst_strides, const Dims& dims);

/// A new int64 tensor on the run's device holding `values`.
Result<Tensor> ints_tensor(RunContext& ctx, const Dims& dims, const std::vector<std::int64_t>& values);
/// Copies host bytes into a tensor on the run's device.
Status upload(RunContext& ctx, Tensor& dst, const void* host, std::size_t bytes);
/// Reads a whole tensor's bytes to the host.
Result<std::vector<char>> download(const Tensor& t, RunContext& ctx);

/// Load-time: input i's type must be one of `allowed`.
Status expect_type(const InferContext& c, std::size_t i, std::initializer_list<DataType> allowed);
/// Load-time: output i gets `type` and, when given, dims (rank known).
void set_output(InferContext& c, std::size_t i, DataType type);
void set_output(InferContext& c, std::size_t i, DataType type, const Dims& dims);
/// Known dims of input i (rank known), or nullptr.
const Dims* known_dims(const InferContext& c, std::size_t i);

}  // namespace parley::onnx::ops
