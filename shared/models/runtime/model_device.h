// ModelDevice and device memory for models: where a model's weights live and its ops run (device,
// backend table, allocator, stream), RAII device buffers, growable scratch and host staging.
// Why: every model (encoder, llama, and the next ones) is written once against kernels::Backend;
// these are the few pieces each would otherwise re-invent to hold memory on "its" device without
// #ifdefs: on the CPU they alias host memory (no copies), on a GPU they upload once.
// Depends on kernels/backend.h, shared/engine (allocator, device).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/backend.h"
#include "kernels/ops/common.h"
#include "shared/common/status.h"
#include "shared/engine/allocator.h"
#include "shared/engine/device.h"

namespace parley::models {

/// Where one model runs: the device, the backend table serving it, the allocator its memory comes
/// from, and the ExecContext (stream, CPU threads, ISA cap) its ops run with. A cheap value type:
/// the model keeps one; each worker copies it and sets its own stream (OwnedStream).
///
///   PARLEY_ASSIGN_OR_RETURN(ModelDevice dev, ModelDevice::open(engine::Device::cuda(0)));
///   PARLEY_RETURN_IF_ERROR(dev.backend().norm(args, dev.ctx()));
class ModelDevice {
 public:
  /// The CPU (always available).
  static ModelDevice cpu(kernels::ThreadPool* threads = nullptr, kernels::CpuIsa isa = kernels::CpuIsa::kAuto);
  /// The backend and allocator for `device`. UNAVAILABLE when none serves it (no CUDA build, no
  /// such GPU).
  static Result<ModelDevice> open(engine::Device device, kernels::ThreadPool* threads = nullptr);

  engine::Device device() const { return device_; }
  bool is_cpu() const { return device_.is_cpu(); }
  const kernels::Backend& backend() const { return *backend_; }
  engine::Allocator& allocator() const { return *allocator_; }
  const kernels::ExecContext& ctx() const { return ctx_; }
  /// This copy's context with another stream (a worker's own stream; see OwnedStream).
  ModelDevice with_stream(engine::StreamHandle stream) const;
  /// This copy's context with a CPU thread pool / ISA cap (CPU knobs; ignored by other backends).
  ModelDevice with_threads(kernels::ThreadPool* threads, kernels::CpuIsa isa = kernels::CpuIsa::kAuto) const;
  /// This copy's context with a workspace (device scratch ops use instead of allocating; a
  /// CUDA-graph capture needs one big enough for every op it records).
  ModelDevice with_workspace(void* workspace, std::size_t bytes) const;

  /// backend().supports(query) (false when the backend has no supports()).
  bool supports(const kernels::OpQuery& query) const;
  bool supports(kernels::Op op, std::initializer_list<engine::DType> dtypes,
                std::initializer_list<std::int64_t> dims) const;

  /// Host -> device and device -> host copies on ctx().stream (they return once the bytes are
  /// there: CPU memcpy; CUDA waits for the stream). Device-side pointers only for `dst` / `src`.
  Status upload(void* dst, const void* host, std::size_t bytes) const;
  Status download(void* host, const void* src, std::size_t bytes) const;
  /// Waits for everything queued on ctx().stream.
  Status synchronize() const;

 private:
  engine::Device device_;
  const kernels::Backend* backend_ = nullptr;
  engine::Allocator* allocator_ = nullptr;
  kernels::ExecContext ctx_;
};

/// One allocation on a model's device (shared ownership: copies share the bytes). Empty = none.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Uninitialized bytes from dev.allocator() (256-byte aligned).
  static Result<DeviceBuffer> allocate(const ModelDevice& dev, std::size_t bytes);
  /// allocate + upload of `bytes` host bytes.
  static Result<DeviceBuffer> upload(const ModelDevice& dev, const void* host, std::size_t bytes);

  void* data() const { return buffer_ ? buffer_->data() : nullptr; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data());
  }
  std::size_t bytes() const { return bytes_; }
  explicit operator bool() const { return buffer_ != nullptr; }

 private:
  std::shared_ptr<engine::Buffer> buffer_;
  std::size_t bytes_ = 0;
};

/// The device copy of a host array, made once at load: on the CPU `ptr` is the host data itself
/// (no copy; the caller keeps the host array alive and unchanged), elsewhere an upload held here.
template <typename T>
struct DeviceView {
  const T* ptr = nullptr;
  std::size_t size = 0;
  DeviceBuffer owner;  ///< empty on the CPU
  const T* data() const { return ptr; }
};

/// Places `host` on dev (see DeviceView). An empty array gives a null view.
template <typename T>
Result<DeviceView<T>> place(const ModelDevice& dev, std::span<const T> host) {
  DeviceView<T> v;
  v.size = host.size();
  if (host.empty()) return v;
  if (dev.is_cpu()) {
    v.ptr = host.data();
    return v;
  }
  PARLEY_ASSIGN_OR_RETURN(v.owner, DeviceBuffer::upload(dev, host.data(), host.size_bytes()));
  v.ptr = v.owner.template as<const T>();
  return v;
}
template <typename T>
Result<DeviceView<T>> place(const ModelDevice& dev, const std::vector<T>& host) {
  return place(dev, std::span<const T>(host));
}

/// Scratch on a model's device that grows to the largest request and never shrinks; contents are
/// not kept across growth. epoch() changes whenever the memory moved (captured graphs that baked
/// the old address must be rebuilt).
class Scratch {
 public:
  /// Makes data() hold at least `bytes` (allocates exactly that when growing).
  Status reserve(const ModelDevice& dev, std::size_t bytes);
  template <typename T>
  Status reserve_elems(const ModelDevice& dev, std::int64_t n) {
    return reserve(dev, static_cast<std::size_t>(n < 1 ? 1 : n) * sizeof(T));
  }
  void* data() const { return buffer_.data(); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data());
  }
  std::size_t capacity() const { return buffer_.bytes(); }
  std::uint64_t epoch() const { return epoch_; }

 private:
  DeviceBuffer buffer_;
  std::uint64_t epoch_ = 0;
};

/// A stream owned by one worker: a non-blocking stream on a GPU, nothing on the CPU (null handle).
/// Move-only; destroyed with the object (queued work still completes).
class OwnedStream {
 public:
  OwnedStream() = default;
  static Result<OwnedStream> create(const ModelDevice& dev);
  ~OwnedStream();
  OwnedStream(OwnedStream&& other) noexcept;
  OwnedStream& operator=(OwnedStream&& other) noexcept;
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;

  engine::StreamHandle handle() const { return handle_; }

 private:
  void reset();
  const kernels::Backend* backend_ = nullptr;
  engine::Device device_;
  engine::StreamHandle handle_ = nullptr;
};

/// What every runner (encoder session, LLaMA forward, Whisper runner) does at construction: on a
/// GPU, create a stream of its own into `stream` and bind `dev` to it; on the CPU, nothing. The
/// Status (named after `owner`) is kept by the runner and reported by its first call.
Status bind_own_stream(ModelDevice& dev, OwnedStream& stream, std::string_view owner);

}  // namespace parley::models
