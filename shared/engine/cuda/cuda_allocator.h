// engine::Allocator implementations for CUDA: device memory through a CachingDevicePool, and
// page-locked host memory. Why: Tensor::empty(shape, dtype, alloc) works the same on every
// device; engines pass these allocators for CUDA tensors and staging buffers.
// Depends on shared/engine/allocator.h (interface only), caching_pool.h.
#pragma once

#include <cstddef>

#include "shared/engine/allocator.h"
#include "shared/engine/cuda/caching_pool.h"

namespace parley::engine::cuda {

/// The process-wide caching allocator of CUDA device `device` (created on first use, never
/// destroyed, thread-safe). Allocations belong to the legacy default stream's free list; use
/// CachingDevicePool directly for per-stream scratch. Alignment up to 256 bytes.
/// UNAVAILABLE from allocate() when the device does not exist.
Allocator& cuda_device_allocator(int device);

/// The process-wide page-locked host allocator (cudaMallocHost); device() is the CPU.
Allocator& pinned_host_allocator();

/// The pool behind cuda_device_allocator(device) (statistics, release_cached()).
CachingDevicePool& cuda_device_pool(int device);

}  // namespace parley::engine::cuda
