// parley-lm: the LM service process — Generate (token stream), Tokenize, ModelInfo on a
// continuous-batching engine over a GGUF Llama-family model. Template: services/echo/main.cc.
// Depends on lm_service.h, shared/service/host.h, shared/config.
#include <cstdlib>
#include <iostream>

#include "services/lm/lm_service.h"
#include "shared/common/model_paths.h"
#include "shared/config/base_schema.h"
#include "shared/models/runtime/device_config.h"
#include "shared/service/host.h"

namespace {


}  // namespace

int main(int argc, char** argv) {
  using namespace parley;
  config::Schema schema = config::service_base_schema("parley-lm", "LM service: streaming text generation");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7104"));
  schema.set_default("http.port", 9104);
  // Each Generate stream holds a worker thread while it waits for tokens: allow many.
  schema.set_default("service.workers", 64);
  schema.add_string("lm.model", "", "GGUF model file; empty = $PARLEY_MODEL_DIR/lm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  schema.add_string("lm.weights", "int8", "Weight format after load: int8 (per-channel), f32, native (GGUF blocks)",
                    config::one_of({"int8", "f32", "native"}));
  schema.add_string("lm.sparse24", "off", "2:4 pruning at load: off, dense (pruned, dense storage), sparse",
                    config::one_of({"off", "dense", "sparse"}));
  schema.add_int("lm.block_max_tokens", 8,
                 "Calls of at most this many tokens (decode) use the file's own Q4/Q8 blocks; 0 = never",
                 config::int_range(0, 256));
  schema.add_int("lm.max_batch", 8, "Sequences decoded together in one step", config::int_range(1, 256));
  schema.add_int("lm.kv_pages", 512, "KV-cache pages (each lm.page_size positions, every layer)",
                 config::int_range(1, 1 << 22));
  schema.add_int("lm.page_size", 16, "Token positions per KV page", config::int_range(1, 1024));
  schema.add_int("lm.prefill_chunk", 256, "Prompt tokens prefilled per step (decodes are never starved)",
                 config::int_range(1, 1 << 20));
  schema.add_int("lm.max_prompt_tokens", 2048, "Longest prompt accepted (tokens)", config::int_range(1, 1 << 20));
  schema.add_int("lm.max_tokens_limit", 1024, "Largest max_tokens a request may ask for",
                 config::int_range(1, 1 << 20));
  schema.add_int("lm.default_max_tokens", 256, "max_tokens when a request leaves it 0", config::int_range(1, 1 << 20));
  schema.add_int("lm.max_pending", 256, "Generations running or waiting before RESOURCE_EXHAUSTED",
                 config::int_range(1, 1 << 20));
  schema.add_int("lm.threads", 0, "CPU threads for the forward pass (0 = all cores / PARLEY_NUM_THREADS)",
                 config::int_range(0, 1024));
  models::add_device_key(schema, "lm.device");
  schema.add_bool("lm.cuda_graphs", true, "GPU: replay decode steps as captured CUDA graphs (false: kernel by kernel)");
  auto host = service::Host::create("lm", schema, argc, argv);
  const config::Config& cfg = host->config();

  lm::LmServiceOptions o;
  o.model_path = cfg.get_string("lm.model").empty() ? default_lm_path() : cfg.get_string("lm.model");
  o.precision = lm::parse_precision(cfg.get_string("lm.weights")).value();
  o.prune = lm::parse_prune(cfg.get_string("lm.sparse24")).value();
  o.block_max_tokens = cfg.get_int("lm.block_max_tokens");
  o.max_batch = static_cast<std::int32_t>(cfg.get_int("lm.max_batch"));
  o.kv_pages = cfg.get_int("lm.kv_pages");
  o.page_size = cfg.get_int("lm.page_size");
  o.prefill_chunk_tokens = cfg.get_int("lm.prefill_chunk");
  o.max_prompt_tokens = static_cast<std::int32_t>(cfg.get_int("lm.max_prompt_tokens"));
  o.max_tokens_limit = static_cast<std::int32_t>(cfg.get_int("lm.max_tokens_limit"));
  o.default_max_tokens = static_cast<std::int32_t>(cfg.get_int("lm.default_max_tokens"));
  o.max_pending = static_cast<std::int32_t>(cfg.get_int("lm.max_pending"));
  o.threads = static_cast<std::int32_t>(cfg.get_int("lm.threads"));
  o.graphs = cfg.get_bool("lm.cuda_graphs");
  auto device = models::resolve_device_key(cfg, "lm.device");
  if (!device.ok()) {
    std::cerr << "parley-lm: " << device.status().to_string() << "\n";
    return 1;
  }
  o.device = *device;
  auto svc = lm::LmService::create(o, &host->metrics());
  if (!svc.ok()) {
    std::cerr << "parley-lm: " << svc.status().to_string() << "\n";
    return 1;
  }
  lm::LmService& lm = **svc;
  host->server_stream<v1::GenerateRequest, v1::GenerateResponse>(
      "parley.v1.Lm/Generate",
      [&lm](const v1::GenerateRequest& r, service::StreamWriter<v1::GenerateResponse>& w, service::CallContext& c) {
        return lm.generate(r, w, c);
      });
  host->unary<v1::TokenizeRequest, v1::TokenizeResponse>(
      "parley.v1.Lm/Tokenize", [&lm](const v1::TokenizeRequest& r, service::CallContext&) { return lm.tokenize(r); });
  host->unary<v1::ModelInfoRequest, v1::ModelInfoResponse>(
      "parley.v1.Lm/ModelInfo",
      [&lm](const v1::ModelInfoRequest&, service::CallContext&) -> Result<v1::ModelInfoResponse> {
        return lm.model_info();
      });
  host->set_ready(true);
  return host->run();
}
