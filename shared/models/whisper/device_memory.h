// DeviceBuffer: an RAII allocation on a backend's device (kernels::Backend::device_alloc/free),
// plus upload/download helpers.
// Why: the Whisper model keeps its weights and activations on its device and runs every layer
// there; this is the one piece of memory plumbing it needs without #ifdefs. (A shared
// model-runtime library is being written elsewhere; this small helper can move there.)
// Depends on kernels/backend.h.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include "kernels/backend.h"
#include "shared/common/status.h"

namespace parley::whisper {

/// Memory on one backend's device. Move-only; frees on destruction. Not synchronized.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// ResourceExhausted when the device has no room.
  static Result<DeviceBuffer> alloc(const kernels::Backend& be, std::size_t bytes, const kernels::ExecContext& ctx);
  /// alloc + copy of `host` bytes.
  static Result<DeviceBuffer> upload(const kernels::Backend& be, const void* host, std::size_t bytes,
                                     const kernels::ExecContext& ctx);
  template <typename T>
  static Result<DeviceBuffer> upload(const kernels::Backend& be, std::span<const T> host, const kernels::ExecContext& ctx) {
    return upload(be, host.data(), host.size_bytes(), ctx);
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = std::exchange(o.be_, nullptr);
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
      ctx_ = o.ctx_;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }
  void reset();

 private:
  const kernels::Backend* be_ = nullptr;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  kernels::ExecContext ctx_;
};

/// Grows `buf` to at least `bytes` (contents not kept).
Status ensure(DeviceBuffer& buf, const kernels::Backend& be, std::size_t bytes, const kernels::ExecContext& ctx);

}  // namespace parley::whisper
