// StepModel: what the continuous-batching scheduler needs from a model — run one mixed batch of
// prefill chunks and decode steps against the KV pages it was given, return logits.
// Why an interface: the scheduler is tested with a fake model (fast, scripted logits); the real
// one (forward_step_model.h) adapts shared/models/llama's Forward + KvCache. Depends on
// shared/models/llama/forward.h (types only).
#pragma once

#include <cstdint>
#include <span>

#include "shared/common/status.h"
#include "shared/models/llama/forward.h"

namespace parley::lm {

// The batch types of the model library (shared/models/llama, namespace llama) the scheduler and
// service speak.
using llama::BatchInput;
using llama::LogitsMode;
using llama::SequenceInput;
using llama::logits_rows;

/// One model instance with its own KV storage, driven by one thread (the engine loop).
class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual std::int64_t vocab_size() const = 0;
  /// Positions one sequence may hold (the model's context length; 0 = no limit of its own).
  virtual std::int64_t max_context() const = 0;
  /// Runs `batch` (block tables index pages of the KV storage this model owns) and writes
  /// logits_rows(batch) rows of vocab_size() floats, in sequence order, into `logits`.
  virtual Status step(const BatchInput& batch, std::span<float> logits) = 0;
};

}  // namespace parley::lm
