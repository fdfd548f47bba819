// parley-nlu: the NLU service process (intents and slots, trained per bot from its examples).
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "services/nlu/nlu_service.h"
#include "shared/config/base_schema.h"
#include "shared/models/runtime/device_config.h"
#include "shared/models/runtime/device_metrics.h"
#include "shared/service/host.h"
#include "shared/common/model_paths.h"

int main(int argc, char** argv) {
  using namespace parley;
  config::Schema schema =
      config::service_base_schema("parley-nlu", "Language understanding: intents and slots per bot");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7102"));
  schema.set_default("http.port", 9102);
  // Parse handlers mostly wait for the featurization batcher; enough of them must wait at once
  // for batches to fill. Training runs on a handler thread too.
  schema.set_default("service.workers", 40);
  schema.add_string("nlu.featurizer", "encoder", "Featurizer: encoder (all-MiniLM-L6-v2) or hash (test stand-in)",
                    config::one_of({"encoder", "hash"}));
  schema.add_string("nlu.encoder_dir", "", "Encoder model directory (empty: $PARLEY_MODEL_DIR/encoder-minilm)");
  schema.add_bool("nlu.encoder_fp32", false, "Run the encoder in FP32 instead of INT8");
  schema.add_bool("nlu.encoder_per_thread", true,
                  "Each featurizing thread runs the encoder alone on one core (pair with nlu.batch.workers = cores); "
                  "false: every encoder op is split over all cores");
  models::add_device_key(schema, "nlu.device");
  schema.add_string("nlu.finetune.mode", "off",
                    "Fine-tune the encoder per bot in a background job after each Train (the frozen-encoder model "
                    "serves until it is ready): off | full (every layer) | lora (top layers + LoRA adapters); a "
                    "TrainRequest's fine_tune overrides it",
                    config::one_of({"off", "full", "lora"}));
  schema.add_int("nlu.finetune.epochs", 0, "Epochs per job (0: from the bot's size, nlu.finetune.example_passes)",
                 config::int_range(0, 1000));
  schema.add_int("nlu.finetune.example_passes", 1500,
                 "Automatic epochs: about this many example passes, clamped to [3, 20] epochs", config::int_range(1, 10'000'000));
  schema.add_double("nlu.finetune.lr", 1e-4, "Peak learning rate of the encoder (AdamW, linear warm-up and decay)",
                    config::double_range(1e-7, 1e-1));
  schema.add_int("nlu.finetune.batch", 32, "Examples per optimizer step", config::int_range(1, 4096));
  schema.add_double("nlu.finetune.dropout", nlu::FinetuneOptions().joint.encoder.dropout,
                    "Dropout on the attention and feed-forward outputs while fine-tuning (0 = off)",
                    config::double_range(0.0, 0.9));
  schema.add_bool("nlu.finetune.bf16", nlu::FinetuneOptions().joint.encoder.bf16,
                  "Mixed precision: the linears' products multiply in bf16 with f32 accumulation where the device "
                  "runs bf16 natively (CPU: AMX tiles, else AVX512_BF16; elsewhere FP32); weights, gradients and moments "
                  "stay FP32");
  schema.add_bool("nlu.finetune.sparse24", false,
                  "full mode: prune every linear to 2:4, fine-tune with the masks fixed (NVIDIA's ASP recipe) and "
                  "serve the bot's encoder on the backend's 2:4 INT8 GEMM (faster only with sparse tensor cores; on "
                  "the CPU no faster than dense INT8, in 0.625x its weight bytes)");
  schema.add_int("nlu.finetune.lora_full_layers", 2, "lora mode: top layers trained in full", config::int_range(0, 64));
  schema.add_int("nlu.finetune.lora_layers", 4, "lora mode: layers below those with LoRA adapters", config::int_range(0, 64));
  schema.add_int("nlu.finetune.lora_rank", 8, "lora mode: adapter rank", config::int_range(1, 256));
  schema.add_int("nlu.finetune.threads", 0, "CPU threads of a fine-tuning job (0: the shared kernel pool)",
                 config::int_range(0, 256));
  schema.add_int("nlu.finetune.max_queued", 16, "Fine-tuning jobs waiting (more: the job is FAILED, the frozen model serves)",
                 config::int_range(1, 10000));
  schema.add_int("nlu.finetune.max_models", static_cast<std::int64_t>(nlu::FinetuneJobOptions().max_models),
                 "Bots holding a fine-tuned encoder (or a job making one) at once, each holding its own encoder "
                 "layers (parley_nlu_model_bytes counts them); more: the job is FAILED, the frozen model serves; "
                 "0 = no fine-tuning",
                 config::int_range(0, 100000));
  schema.add_int("nlu.finetune.check_examples", static_cast<std::int64_t>(nlu::FinetuneJobOptions().check_examples),
                 "Examples of the bot's own that the fine-tuned and the frozen model both parse before the "
                 "fine-tuned one is adopted (0: adopt unchecked)",
                 config::int_range(0, 100000));
  schema.add_double("nlu.finetune.check_tolerance", nlu::FinetuneJobOptions().check_tolerance,
                    "Fraction of the checked examples the fine-tuned model may parse worse than the frozen one "
                    "before it is refused (the frozen model keeps serving)",
                    config::double_range(0.0, 1.0));
  schema.add_string("nlu.finetune.cache_dir", "",
                    "Directory of fine-tuned encoders kept between runs and shared by replicas, keyed by the base "
                    "encoder, the fine-tuning options and the bot's examples (empty: none)");
  schema.add_int("nlu.finetune.cache_max_bytes", std::int64_t{8} << 30,
                 "Bytes the fine-tuning cache may hold (least recently used entries are removed first)",
                 config::int_range(1 << 20, std::int64_t{1} << 50));
  schema.add_int("nlu.max_text_bytes", 16 * 1024, "Longest Parse text, in bytes", config::int_range(1, 1 << 20));
  schema.add_int("nlu.max_bots", 64, "Most bots loaded at once", config::int_range(1, 100000));
  schema.add_int("nlu.max_examples", 50000, "Most training examples per bot", config::int_range(1, 10'000'000));
  schema.add_int("nlu.max_example_bytes", 4096, "Longest training example, in bytes", config::int_range(1, 1 << 20));
  schema.add_int("nlu.max_intents", 1000, "Most intents per bot", config::int_range(1, 100000));
  schema.add_int("nlu.max_slots", 200, "Most slots per bot", config::int_range(1, 100000));
  schema.add_int("nlu.batch.max_size", 16, "Parse featurization batch size (1: no batching)",
                 config::int_range(1, 1024));
  schema.add_duration("nlu.batch.max_queue_delay", std::chrono::microseconds(1500),
                      "Longest a text waits for its batch to fill",
                      config::duration_range(std::chrono::microseconds(0), std::chrono::seconds(1)));
  schema.add_int("nlu.batch.workers", 0, "Threads running featurization batches (0: PARLEY_NUM_THREADS, else one per core)",
                 config::int_range(0, 64));
  schema.add_int("nlu.batch.queue_capacity", 1024, "Texts queued for featurization", config::int_range(1, 1 << 20));
  auto host = service::Host::create("nlu", schema, argc, argv);
  const config::Config& cfg = host->config();

  auto device = models::resolve_device_key(cfg, "nlu.device");
  if (!device.ok()) {
    std::cerr << "parley-nlu: " << device.status().to_string() << "\n";
    return 2;
  }
  std::shared_ptr<const nlu::Featurizer> featurizer;
  std::shared_ptr<const encoder::EncoderModel> serving_model;  // the shared featurizer's encoder
  if (cfg.get_string("nlu.featurizer") == "hash") {
    featurizer = std::make_shared<nlu::HashFeaturizer>(64);
  } else {
    std::string dir = cfg.get_string("nlu.encoder_dir");
    if (dir.empty()) dir = parley::default_encoder_dir();
    auto f =
        nlu::EncoderFeaturizer::open(dir, cfg.get_bool("nlu.encoder_fp32"), cfg.get_bool("nlu.encoder_per_thread"), *device);
    if (!f.ok()) {
      std::cerr << "parley-nlu: " << f.status().to_string() << "\n";
      return 2;
    }
    serving_model = (*f)->encoder()->shared_model();
    featurizer = std::move(*f);
  }
  nlu::NluOptions o;
  o.limits.max_text_bytes = static_cast<std::size_t>(cfg.get_int("nlu.max_text_bytes"));
  o.limits.max_bots = static_cast<std::size_t>(cfg.get_int("nlu.max_bots"));
  o.train.limits.max_examples = static_cast<std::size_t>(cfg.get_int("nlu.max_examples"));
  o.train.limits.max_example_bytes = static_cast<std::size_t>(cfg.get_int("nlu.max_example_bytes"));
  o.train.limits.max_intents = static_cast<std::size_t>(cfg.get_int("nlu.max_intents"));
  o.train.limits.max_slots = static_cast<std::size_t>(cfg.get_int("nlu.max_slots"));
  o.batch.max_batch_size = static_cast<std::size_t>(cfg.get_int("nlu.batch.max_size"));
  o.batch.max_queue_delay = cfg.get_duration("nlu.batch.max_queue_delay");
  o.batch.workers = static_cast<int>(cfg.get_int("nlu.batch.workers"));
  if (o.batch.workers == 0) {
    // The CPU kernels' pool size (PARLEY_NUM_THREADS: the pod's CPU request in Kubernetes), else
    // the machine's cores.
    unsigned n = std::thread::hardware_concurrency();
    if (const char* env = std::getenv("PARLEY_NUM_THREADS"); env != nullptr && std::atoi(env) > 0) {
      n = static_cast<unsigned>(std::atoi(env));
    }
    o.batch.workers = static_cast<int>(std::clamp(n, 1u, 64u));
  }
  o.batch.queue_capacity = static_cast<std::size_t>(cfg.get_int("nlu.batch.queue_capacity"));

  // Fine-tuning: the FP32 encoder every job starts from, loaded by the first job.
  const std::string fmode = cfg.get_string("nlu.finetune.mode");
  o.finetune_default = fmode == "full" ? v1::FINE_TUNE_FULL : fmode == "lora" ? v1::FINE_TUNE_LORA : v1::FINE_TUNE_OFF;
  {
    nlu::FinetuneOptions f;
    f.joint.epochs = static_cast<int>(cfg.get_int("nlu.finetune.epochs"));
    f.example_passes = cfg.get_int("nlu.finetune.example_passes");
    f.joint.lr = static_cast<float>(cfg.get_double("nlu.finetune.lr"));
    f.joint.batch_size = cfg.get_int("nlu.finetune.batch");
    f.joint.encoder.dropout = static_cast<float>(cfg.get_double("nlu.finetune.dropout"));
    f.joint.encoder.bf16 = cfg.get_bool("nlu.finetune.bf16");
    f.threads = static_cast<int>(cfg.get_int("nlu.finetune.threads"));
    f.device = *device;  // jobs train where the service runs its encoder (kernels/ops/train.h: CPU and CUDA)
    f.serve.device = *device;  // and their encoders serve there too
    f.serve.precision = cfg.get_bool("nlu.encoder_fp32") ? encoder::Precision::kFp32 : encoder::Precision::kInt8;
    nlu::FinetuneOptions full = f;
    if (cfg.get_bool("nlu.finetune.sparse24")) {
      full.joint.encoder.sparse24 = true;
      full.serve = encoder::LoadOptions::sparse24_int8();
      full.serve.device = f.serve.device;
    }
    o.finetune.full = full;
    f.joint.encoder.full_layers = static_cast<int>(cfg.get_int("nlu.finetune.lora_full_layers"));
    f.joint.encoder.lora_layers = static_cast<int>(cfg.get_int("nlu.finetune.lora_layers"));
    f.joint.encoder.lora_rank = static_cast<int>(cfg.get_int("nlu.finetune.lora_rank"));
    o.finetune.lora = f;
    o.finetune.max_queued = static_cast<std::size_t>(cfg.get_int("nlu.finetune.max_queued"));
    o.finetune.max_models = static_cast<std::size_t>(cfg.get_int("nlu.finetune.max_models"));
    o.finetune.check_examples = static_cast<std::size_t>(cfg.get_int("nlu.finetune.check_examples"));
    o.finetune.check_tolerance = cfg.get_double("nlu.finetune.check_tolerance");
    if (const std::string cache_dir = cfg.get_string("nlu.finetune.cache_dir"); !cache_dir.empty()) {
      auto cache = nlu::FinetuneCache::open(
          {.dir = cache_dir, .max_bytes = static_cast<std::uint64_t>(cfg.get_int("nlu.finetune.cache_max_bytes"))});
      if (!cache.ok()) {
        std::cerr << "parley-nlu: nlu.finetune.cache_dir: " << cache.status().to_string() << "\n";
        return 2;
      }
      o.finetune.cache = std::move(*cache);
    }
  }
  if (cfg.get_string("nlu.featurizer") != "hash") {
    std::string dir = cfg.get_string("nlu.encoder_dir");
    if (dir.empty()) dir = parley::default_encoder_dir();
    o.base_encoder = nlu::keep_fp32_base(dir, serving_model);
  }

  nlu::NluMetrics metrics(host->metrics());
  // The hash featurizer computes on the host whatever nlu.device says.
  models::register_device_metrics(host->metrics(), "nlu",
                                  cfg.get_string("nlu.featurizer") == "hash" ? engine::Device::cpu() : *device);
  auto svc = nlu::NluService::create(std::move(o), featurizer, &metrics);
  if (!svc.ok()) {
    std::cerr << "parley-nlu: " << svc.status().to_string() << "\n";
    return 2;
  }
  if ((*svc)->batcher() != nullptr) (*svc)->batcher()->stats().export_to(host->metrics(), "nlu", "parse");
  nlu::NluService& s = **svc;
  host->unary<v1::TrainRequest, v1::TrainResponse>(
      "parley.v1.Nlu/Train", [&s](const v1::TrainRequest& r, service::CallContext& c) { return s.train(r, c); });
  host->unary<v1::ParseRequest, v1::ParseResponse>(
      "parley.v1.Nlu/Parse", [&s](const v1::ParseRequest& r, service::CallContext& c) { return s.parse(r, c); });
  host->unary<v1::TrainingStatusRequest, v1::TrainingStatusResponse>(
      "parley.v1.Nlu/TrainingStatus",
      [&s](const v1::TrainingStatusRequest& r, service::CallContext&) { return s.training_status(r); });
  host->unary<v1::DropBotRequest, v1::DropBotResponse>(
      "parley.v1.Nlu/DropBot", [&s](const v1::DropBotRequest& r, service::CallContext& c) { return s.drop_bot(r, c); });
  host->set_ready(true);
  return host->run();
}
