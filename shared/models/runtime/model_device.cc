// ModelDevice, DeviceBuffer, Scratch and OwnedStream (see model_device.h).
// Why: one implementation of "memory on the model's device" for every model.
// Depends on model_device.h.
#include "shared/models/runtime/model_device.h"

#include <string>
#include <utility>

namespace parley::models {

namespace {
constexpr std::size_t kAlignment = 256;
}  // namespace

ModelDevice ModelDevice::cpu(kernels::ThreadPool* threads, kernels::CpuIsa isa) {
  ModelDevice d;
  d.device_ = engine::Device::cpu();
  d.backend_ = &kernels::BackendRegistry::instance().cpu();
  d.allocator_ = &engine::cpu_allocator();
  d.ctx_ = kernels::ExecContext::cpu();
  d.ctx_.threads = threads;
  d.ctx_.cpu_isa = isa;
  return d;
}

Result<ModelDevice> ModelDevice::open(engine::Device device, kernels::ThreadPool* threads) {
  if (device.is_cpu()) return cpu(threads);
  const kernels::Backend* be = kernels::BackendRegistry::instance().cuda();
  if (be == nullptr || device.index < 0 || device.index >= engine::cuda_device_count()) {
    return unavailable("no backend for " + device.to_string() + " (" + std::to_string(engine::cuda_device_count()) +
                       " CUDA device(s); CPU-only build or no GPU)");
  }
  PARLEY_ASSIGN_OR_RETURN(engine::Allocator * alloc, engine::allocator_for(device));
  ModelDevice d;
  d.device_ = device;
  d.backend_ = be;
  d.allocator_ = alloc;
  d.ctx_ = kernels::ExecContext::cpu();
  d.ctx_.stream = engine::Stream{device, nullptr};
  d.ctx_.threads = threads;
  return d;
}

ModelDevice ModelDevice::with_stream(engine::StreamHandle stream) const {
  ModelDevice d = *this;
  d.ctx_.stream.handle = stream;
  return d;
}

ModelDevice ModelDevice::with_threads(kernels::ThreadPool* threads, kernels::CpuIsa isa) const {
  ModelDevice d = *this;
  d.ctx_.threads = threads;
  d.ctx_.cpu_isa = isa;
  return d;
}

ModelDevice ModelDevice::with_workspace(void* workspace, std::size_t bytes) const {
  ModelDevice d = *this;
  d.ctx_.workspace = workspace;
  d.ctx_.workspace_bytes = bytes;
  return d;
}

bool ModelDevice::supports(const kernels::OpQuery& query) const {
  return backend_->supports != nullptr && backend_->supports(query);
}

bool ModelDevice::supports(kernels::Op op, std::initializer_list<engine::DType> dtypes,
                           std::initializer_list<std::int64_t> dims) const {
  kernels::OpQuery q;
  q.op = op;
  q.dtypes = std::span<const engine::DType>(dtypes.begin(), dtypes.size());
  q.dims = std::span<const std::int64_t>(dims.begin(), dims.size());
  return supports(q);
}

Status ModelDevice::upload(void* dst, const void* host, std::size_t bytes) const {
  if (bytes == 0) return Status::ok();
  return backend_->copy_to_device(dst, host, bytes, ctx_);
}

Status ModelDevice::download(void* host, const void* src, std::size_t bytes) const {
  if (bytes == 0) return Status::ok();
  return backend_->copy_to_host(host, src, bytes, ctx_);
}

Status ModelDevice::synchronize() const { return backend_->synchronize(ctx_); }

Result<DeviceBuffer> DeviceBuffer::allocate(const ModelDevice& dev, std::size_t bytes) {
  DeviceBuffer b;
  auto buf = engine::Buffer::allocate(dev.allocator(), bytes, kAlignment);
  if (!buf.ok()) {
    return buf.status().with_context("allocating " + std::to_string(bytes) + " bytes on " + dev.device().to_string());
  }
  b.buffer_ = std::move(*buf);
  b.bytes_ = bytes;
  return b;
}

Result<DeviceBuffer> DeviceBuffer::upload(const ModelDevice& dev, const void* host, std::size_t bytes) {
  PARLEY_ASSIGN_OR_RETURN(DeviceBuffer b, allocate(dev, bytes));
  PARLEY_RETURN_IF_ERROR(dev.upload(b.data(), host, bytes));
  return b;
}

Status Scratch::reserve(const ModelDevice& dev, std::size_t bytes) {
  if (bytes <= buffer_.bytes() && buffer_) return Status::ok();
  buffer_ = DeviceBuffer();  // free first: the old block may be what the new one reuses
  PARLEY_ASSIGN_OR_RETURN(buffer_, DeviceBuffer::allocate(dev, bytes));
  ++epoch_;
  return Status::ok();
}

Result<OwnedStream> OwnedStream::create(const ModelDevice& dev) {
  OwnedStream s;
  if (dev.is_cpu() || dev.backend().stream_create == nullptr) return s;
  s.backend_ = &dev.backend();
  s.device_ = dev.device();
  PARLEY_RETURN_IF_ERROR(dev.backend().stream_create(dev.device(), &s.handle_));
  return s;
}

Status bind_own_stream(ModelDevice& dev, OwnedStream& stream, std::string_view owner) {
  if (dev.is_cpu()) return Status::ok();
  auto s = OwnedStream::create(dev);
  if (!s.ok()) return s.status().with_context(std::string(owner) + ": creating a stream on " + dev.device().to_string());
  stream = std::move(*s);
  dev = dev.with_stream(stream.handle());
  return Status::ok();
}

OwnedStream::~OwnedStream() { reset(); }

OwnedStream::OwnedStream(OwnedStream&& other) noexcept
    : backend_(other.backend_), device_(other.device_), handle_(other.handle_) {
  other.handle_ = nullptr;
}

OwnedStream& OwnedStream::operator=(OwnedStream&& other) noexcept {
  if (this != &other) {
    reset();
    backend_ = other.backend_;
    device_ = other.device_;
    handle_ = other.handle_;
    other.handle_ = nullptr;
  }
  return *this;
}

void OwnedStream::reset() {
  if (handle_ != nullptr && backend_ != nullptr && backend_->stream_destroy != nullptr) {
    backend_->stream_destroy(device_, handle_);
  }
  handle_ = nullptr;
}

}  // namespace parley::models
