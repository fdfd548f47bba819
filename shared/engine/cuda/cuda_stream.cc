// RAII streams, events and the device guard.
// Why: one place that creates/destroys raw handles and checks every call.
// Depends on cuda_stream.h, cuda_check.h.
#include "shared/engine/cuda/cuda_stream.h"

#include <utility>

#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::engine::cuda {

DeviceGuard::DeviceGuard(int device) {
  PARLEY_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    PARLEY_CUDA_CHECK(cudaSetDevice(device));
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) PARLEY_CUDA_CHECK(cudaSetDevice(previous_));
}

Result<CudaStream> CudaStream::create(int device, int priority) {
  PARLEY_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  CudaStream s;
  PARLEY_CUDA_RETURN_IF_ERROR(
      cudaStreamCreateWithPriority(&s.stream_, cudaStreamNonBlocking, priority));
  s.device_ = device;
  return s;
}

CudaStream::~CudaStream() { reset(); }

CudaStream::CudaStream(CudaStream&& other) noexcept
    : stream_(std::exchange(other.stream_, nullptr)), device_(std::exchange(other.device_, -1)) {}

CudaStream& CudaStream::operator=(CudaStream&& other) noexcept {
  if (this != &other) {
    reset();
    stream_ = std::exchange(other.stream_, nullptr);
    device_ = std::exchange(other.device_, -1);
  }
  return *this;
}

void CudaStream::reset() {
  if (stream_ != nullptr) {
    // Destruction must not abort a process that is already unwinding from a device error.
    const cudaError_t err = cudaStreamDestroy(stream_);
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaStreamDestroy(stream_)", __FILE__, __LINE__);
    }
    stream_ = nullptr;
  }
}

Status CudaStream::synchronize() const {
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::ok();
}

Result<CudaEvent> CudaEvent::create(bool disable_timing) {
  CudaEvent e;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(
      &e.event_, disable_timing ? cudaEventDisableTiming : cudaEventDefault));
  return e;
}

CudaEvent::~CudaEvent() { reset(); }

CudaEvent::CudaEvent(CudaEvent&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

CudaEvent& CudaEvent::operator=(CudaEvent&& other) noexcept {
  if (this != &other) {
    reset();
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void CudaEvent::reset() {
  if (event_ != nullptr) {
    const cudaError_t err = cudaEventDestroy(event_);
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaEventDestroy(event_)", __FILE__, __LINE__);
    }
    event_ = nullptr;
  }
}

Status CudaEvent::record(cudaStream_t stream) const {
  PARLEY_CUDA_RETURN_IF_ERROR(cudaEventRecord(event_, stream));
  return Status::ok();
}

Status CudaEvent::synchronize() const {
  PARLEY_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(event_));
  return Status::ok();
}

Result<bool> CudaEvent::query() const {
  const cudaError_t err = cudaEventQuery(event_);
  if (err == cudaSuccess) return true;
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  return cuda_status(err, "cudaEventQuery(event_)", __FILE__, __LINE__);
}

Result<float> CudaEvent::elapsed_ms_since(const CudaEvent& start) const {
  float ms = 0.0f;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

}  // namespace parley::engine::cuda
