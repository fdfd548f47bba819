// The vocabulary of one generation: request parameters, streamed events, finish reasons, and the
// per-stream detokenizer interface the scheduler uses.
// Why separate from the scheduler: the service, the CLI and tests build and read these without
// caring how batches are formed. Depends on sampling.h, shared/common.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/lm/sampling.h"
#include "shared/common/status.h"

namespace parley::lm {

using Clock = std::chrono::steady_clock;
using RequestId = std::uint64_t;

enum class FinishReason : std::uint8_t {
  kStop,       ///< end-of-generation token, stop token or stop string
  kLength,     ///< max_tokens or the context length reached
  kCancelled,  ///< the caller cancelled
  kDeadline,   ///< the request's deadline passed (status DEADLINE_EXCEEDED)
  kError,      ///< the model failed (status says why)
};
/// "stop", "length", "cancelled", "deadline", "error" (the wire's finish_reason).
std::string_view finish_reason_name(FinishReason reason);

struct Usage {
  std::int32_t prompt_tokens = 0;
  std::int32_t completion_tokens = 0;
  std::int64_t time_to_first_token_us = 0;  ///< 0 when no token was generated
  std::int64_t total_us = 0;
  std::int32_t preemptions = 0;
};

/// What a caller receives: zero or more deltas, then exactly one event with `finished`.
struct GenerationEvent {
  std::string text;                   ///< new text (complete UTF-8; stop-string prefixes held back)
  std::vector<std::int32_t> tokens;   ///< new token ids (end-of-generation ids are not included)
  bool finished = false;
  FinishReason reason = FinishReason::kStop;
  Status status;                      ///< non-OK with kDeadline / kError / kCancelled
  Usage usage;                        ///< on the finished event
};

/// Called on the engine's loop thread, in order, once per step with news and once at the end.
/// Must not block (queue the event for another thread) and must not call back into the engine.
using EventSink = std::function<void(GenerationEvent&&)>;

/// Everything the scheduler needs to run one generation (prompt already tokenized).
struct GenerationRequest {
  std::vector<std::int32_t> prompt;
  SamplingOptions sampling;
  std::int32_t max_tokens = 128;             ///< > 0
  std::vector<std::string> stop;             ///< stop strings (text is cut before them)
  std::vector<std::int32_t> stop_tokens;     ///< besides the engine's end-of-generation ids
  bool ignore_eos = false;                   ///< benchmarks: run to max_tokens
  Clock::time_point deadline = Clock::time_point::max();
  EventSink sink;
};

/// Turns one stream's token ids into text deltas (complete UTF-8). One per sequence.
class TokenTextStream {
 public:
  virtual ~TokenTextStream() = default;
  virtual std::string push(std::int32_t token) = 0;
  virtual std::string finish() = 0;
};
using TextStreamFactory = std::function<std::unique_ptr<TokenTextStream>()>;

}  // namespace parley::lm
