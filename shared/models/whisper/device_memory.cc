// DeviceBuffer (see device_memory.h).
#include "shared/models/whisper/device_memory.h"

namespace parley::whisper {

Result<DeviceBuffer> DeviceBuffer::alloc(const kernels::Backend& be, std::size_t bytes, const kernels::ExecContext& ctx) {
  DeviceBuffer b;
  b.be_ = &be;
  b.ctx_ = ctx;
  b.bytes_ = bytes;
  if (bytes == 0) return b;
  b.ptr_ = be.device_alloc(bytes, ctx);
  if (b.ptr_ == nullptr) {
    b.be_ = nullptr;
    return resource_exhausted("cannot allocate " + std::to_string(bytes) + " bytes on " + std::string(be.name));
  }
  return b;
}

Result<DeviceBuffer> DeviceBuffer::upload(const kernels::Backend& be, const void* host, std::size_t bytes,
                                          const kernels::ExecContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(DeviceBuffer b, alloc(be, bytes, ctx));
  if (bytes > 0) PARLEY_RETURN_IF_ERROR(be.copy_to_device(b.data(), host, bytes, ctx));
  return b;
}

void DeviceBuffer::reset() {
  if (be_ != nullptr && ptr_ != nullptr) be_->device_free(ptr_, ctx_);
  be_ = nullptr;
  ptr_ = nullptr;
  bytes_ = 0;
}

Status ensure(DeviceBuffer& buf, const kernels::Backend& be, std::size_t bytes, const kernels::ExecContext& ctx) {
  if (buf.bytes() >= bytes && buf.data() != nullptr) return Status::ok();
  buf.reset();
  PARLEY_ASSIGN_OR_RETURN(buf, DeviceBuffer::alloc(be, bytes, ctx));
  return Status::ok();
}

}  // namespace parley::whisper
