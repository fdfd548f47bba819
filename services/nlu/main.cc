// parley-nlu: the NLU service process (intents and slots, trained per bot from its examples).
#include <algorithm>
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
  schema.add_int("nlu.batch.workers", 0, "Threads running featurization batches (0: one per core)",
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
  if (o.batch.workers == 0)
    o.batch.workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 64u));
  o.batch.queue_capacity = static_cast<std::size_t>(cfg.get_int("nlu.batch.queue_capacity"));

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
  host->unary<v1::DropBotRequest, v1::DropBotResponse>(
      "parley.v1.Nlu/DropBot", [&s](const v1::DropBotRequest& r, service::CallContext& c) { return s.drop_bot(r, c); });
  host->set_ready(true);
  return host->run();
}
