// LmService: the parley.v1.Lm methods (Generate stream, Tokenize, ModelInfo) over one Engine.
// Why: the service process (main.cc) and `parley lm --local` share request checking, prompt
// building (raw text or chat template), limits and streaming. Depends on engine.h, model_text.h,
// shared/models/llama, shared/service (method.h), proto lm.proto.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "parley/v1/lm.pb.h"
#include "services/lm/engine.h"
#include "services/lm/forward_step_model.h"
#include "services/lm/lm_metrics.h"
#include "shared/models/llama/llama_model.h"
#include "services/lm/model_text.h"
#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "shared/metrics/registry.h"
#include "shared/service/method.h"

namespace parley::kernels {
class ThreadPool;
}

namespace parley::lm {

struct LmServiceOptions {
  std::string model_path;                ///< GGUF file
  Precision precision = Precision::kInt8;
  Prune24 prune = Prune24::kOff;
  /// Calls of at most this many tokens (decode steps) run on the file's own Q4/Q8 blocks
  /// (model LoadOptions::block_max_tokens); 0 = always the `precision` weights.
  std::int64_t block_max_tokens = 8;
  std::int32_t max_batch = 8;
  std::int64_t kv_pages = 512;
  std::int64_t page_size = 16;
  std::int64_t prefill_chunk_tokens = 256;
  std::int32_t max_prompt_tokens = 2048;  ///< longer prompts: INVALID_ARGUMENT
  std::int32_t max_tokens_limit = 1024;   ///< largest max_tokens accepted: INVALID_ARGUMENT beyond
  std::int32_t default_max_tokens = 256;  ///< when the request says 0
  std::int32_t max_pending = 256;         ///< requests in the engine (running + waiting): RESOURCE_EXHAUSTED beyond
  std::int32_t threads = 0;               ///< CPU threads for the forward pass; 0 = the process pool
  /// Where the model runs (resolved `lm.device`); UNAVAILABLE from create() when absent.
  engine::Device device = engine::Device::cpu();
  /// GPU: replay decode steps as captured graphs (ForwardOptions::graphs).
  bool graphs = true;
  std::size_t max_prompt_bytes = 256 * 1024;
  std::int32_t max_stop_strings = 16;
  std::size_t max_stop_bytes = 256;
};

/// Parses "int8" | "f32" | "native" and "off" | "dense" | "sparse" (INVALID_ARGUMENT otherwise).
Result<Precision> parse_precision(const std::string& name);
Result<Prune24> parse_prune(const std::string& name);

/// One loaded model serving requests. Thread-safe: any number of handler threads call
/// generate()/tokenize()/model_info() at once; the engine thread does the model work.
///
///   PARLEY_ASSIGN_OR_RETURN(auto svc, LmService::create(options, &host->metrics()));
///   host->server_stream<v1::GenerateRequest, v1::GenerateResponse>("parley.v1.Lm/Generate",
///       [&](auto& req, auto& writer, auto& ctx) { return svc->generate(req, writer, ctx); });
class LmService {
 public:
  /// Loads the model and starts the engine. NOT_FOUND when the file is missing; the loader's
  /// errors otherwise. `registry` (may be null) gets the parley_lm_* families; it must outlive
  /// the service.
  static Result<std::unique_ptr<LmService>> create(const LmServiceOptions& options, metrics::Registry* registry);
  ~LmService();

  /// Streams GenerateResponse deltas; the last one has finish_reason, usage and seed. Returns the
  /// error for bad requests (nothing streamed), DEADLINE_EXCEEDED / CANCELLED / INTERNAL when the
  /// generation ends that way. Blocks the calling thread until the generation ends.
  Status generate(const v1::GenerateRequest& request, service::StreamWriter<v1::GenerateResponse>& writer,
                  service::CallContext& context);

  /// The same without a service host: `write` returns false to cancel; `cancelled` is polled.
  Status generate(const v1::GenerateRequest& request, Clock::time_point deadline,
                  const std::function<bool(const v1::GenerateResponse&)>& write,
                  const std::function<bool()>& cancelled);

  Result<v1::TokenizeResponse> tokenize(const v1::TokenizeRequest& request) const;
  v1::ModelInfoResponse model_info() const;

  const Engine& engine() const { return *engine_; }
  const ModelText& text() const { return text_; }
  const LmServiceOptions& options() const { return options_; }

  /// Turns a request into engine input (prompt tokens, limits, sampling, stops); the error a
  /// client gets for a bad request. Public for tests.
  Result<GenerationRequest> build_request(const v1::GenerateRequest& request) const;

 private:
  LmService() = default;

  LmServiceOptions options_;
  std::shared_ptr<const LlamaModel> model_;
  ModelText text_;
  std::unique_ptr<LmMetrics> metrics_;
  std::unique_ptr<kernels::ThreadPool> pool_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace parley::lm
