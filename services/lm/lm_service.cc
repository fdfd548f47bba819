// LmService implementation (see lm_service.h): request checks and prompt building on the
// caller's thread, generation on the engine thread, events handed back through a small queue.
// Depends on lm_service.h, kernels/cpu/thread_pool.h, shared/text.
#include "services/lm/lm_service.h"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>

#include "kernels/cpu/thread_pool.h"
#include "shared/common/log.h"
#include "shared/models/runtime/device_metrics.h"
#include "shared/text/chat_template.h"

namespace parley::lm {
namespace {

// Events from the engine thread to the handler thread.
struct EventQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<GenerationEvent> events;
};

std::string weight_format(const LoadOptions& o) {
  std::string s;
  switch (o.precision) {
    case Precision::kInt8: s = "int8 per-channel"; break;
    case Precision::kFp32: s = "f32"; break;
    case Precision::kNative: s = "native (GGUF blocks)"; break;
  }
  switch (o.prune) {
    case Prune24::kOff: break;
    case Prune24::kDense: s += ", 2:4 pruned (dense storage)"; break;
    case Prune24::kSparse: s += ", 2:4 sparse"; break;
  }
  return s;
}

void fill_final(v1::GenerateResponse& r, const GenerationEvent& ev, std::uint64_t seed) {
  r.set_finish_reason(std::string(finish_reason_name(ev.reason)));
  auto* u = r.mutable_usage();
  u->set_prompt_tokens(ev.usage.prompt_tokens);
  u->set_completion_tokens(ev.usage.completion_tokens);
  u->set_time_to_first_token_us(ev.usage.time_to_first_token_us);
  u->set_total_us(ev.usage.total_us);
  u->set_preemptions(ev.usage.preemptions);
  r.set_seed(seed);
}

}  // namespace

Result<Precision> parse_precision(const std::string& name) {
  if (name == "int8") return Precision::kInt8;
  if (name == "f32") return Precision::kFp32;
  if (name == "native") return Precision::kNative;
  return invalid_argument("lm.weights must be int8, f32 or native, got '" + name + "'");
}

Result<Prune24> parse_prune(const std::string& name) {
  if (name == "off" || name == "false") return Prune24::kOff;
  if (name == "dense") return Prune24::kDense;
  if (name == "sparse" || name == "true") return Prune24::kSparse;
  return invalid_argument("lm.sparse24 must be off, dense or sparse, got '" + name + "'");
}

Result<std::unique_ptr<LmService>> LmService::create(const LmServiceOptions& options, metrics::Registry* registry) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.model_path, ec)) {
    return not_found("LM model file '" + options.model_path +
                     "' not found: run tools/models/fetch (or set lm.model / PARLEY_MODEL_DIR)");
  }
  std::unique_ptr<LmService> svc(new LmService());
  svc->options_ = options;
  LoadOptions load;
  load.precision = options.precision;
  load.prune = options.prune;
  load.block_max_tokens = options.block_max_tokens;
  load.device = options.device;
  const auto t0 = Clock::now();
  PARLEY_ASSIGN_OR_RETURN(svc->model_, LlamaModel::load(options.model_path, load));
  PARLEY_ASSIGN_OR_RETURN(svc->text_, ModelText::from_gguf(svc->model_->gguf()));
  if (registry != nullptr) {
    svc->metrics_ = std::make_unique<LmMetrics>(*registry);
    models::register_device_metrics(*registry, "lm", options.device);
  }
  ForwardOptions fo;
  fo.graphs = options.graphs;
  if (options.threads > 0) {
    svc->pool_ = std::make_unique<kernels::ThreadPool>(options.threads);
    fo.threads = svc->pool_.get();
  }
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<ForwardStepModel> step,
                          ForwardStepModel::create(svc->model_, options.kv_pages, options.page_size, fo));
  EngineOptions eo;
  eo.kv_pages = options.kv_pages;
  eo.page_size = options.page_size;
  eo.scheduler.max_batch = options.max_batch;
  eo.scheduler.prefill_chunk_tokens = options.prefill_chunk_tokens;
  eo.scheduler.eog_tokens = svc->text_.eog_tokens;
  svc->engine_ = std::make_unique<Engine>(std::move(step), svc->text_.stream_factory(), eo, svc->metrics_.get());
  svc->engine_->start();
  const auto& c = svc->model_->config();
  PARLEY_LOG(kInfo)
      .kv("path", options.model_path)
                    .kv("layers", c.layers)
                    .kv("hidden", c.hidden)
                    .kv("vocab", c.vocab_size)
                    .kv("weights", weight_format(load))
                    .kv("device", options.device.to_string())
                    .kv("chat_template", text::chat_template_family_name(svc->text_.chat.family()))
                    .kv("load_ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count())
      << "LM model loaded";
  return svc;
}

LmService::~LmService() {
  if (engine_) engine_->stop();
}

Result<GenerationRequest> LmService::build_request(const v1::GenerateRequest& req) const {
  const text::Tokenizer& tok = *text_.tokenizer;
  GenerationRequest g;
  bool chat = false;
  switch (req.input_case()) {
    case v1::GenerateRequest::kPrompt: {
      if (req.prompt().size() > options_.max_prompt_bytes) {
        return invalid_argument("prompt is " + std::to_string(req.prompt().size()) + " bytes; the limit is " +
                                std::to_string(options_.max_prompt_bytes));
      }
      PARLEY_ASSIGN_OR_RETURN(g.prompt, tok.encode(req.prompt(), {.add_special = true, .parse_special = false}));
      break;
    }
    case v1::GenerateRequest::kMessages: {
      std::vector<text::ChatMessage> msgs;
      std::size_t bytes = 0;
      for (const auto& m : req.messages().messages()) {
        msgs.push_back({m.role(), m.content()});
        bytes += m.content().size();
      }
      if (msgs.empty()) return invalid_argument("messages is empty");
      if (bytes > options_.max_prompt_bytes) {
        return invalid_argument("messages hold " + std::to_string(bytes) + " bytes; the limit is " +
                                std::to_string(options_.max_prompt_bytes));
      }
      PARLEY_ASSIGN_OR_RETURN(std::string rendered, text_.chat.render(msgs, /*add_generation_prompt=*/true));
      PARLEY_ASSIGN_OR_RETURN(g.prompt, tok.encode(rendered, {.add_special = true, .parse_special = true}));
      chat = true;
      break;
    }
    case v1::GenerateRequest::INPUT_NOT_SET:
      return invalid_argument("GenerateRequest needs a prompt or messages");
  }
  if (g.prompt.empty()) return invalid_argument("the prompt is empty");
  const auto prompt_len = static_cast<std::int64_t>(g.prompt.size());
  if (prompt_len > options_.max_prompt_tokens) {
    return invalid_argument("prompt has " + std::to_string(prompt_len) + " tokens; the limit is " +
                            std::to_string(options_.max_prompt_tokens) + " (lm.max_prompt_tokens)");
  }
  const v1::SamplingParams& p = req.params();
  if (p.max_tokens() < 0) return invalid_argument("max_tokens must be >= 0, got " + std::to_string(p.max_tokens()));
  if (p.max_tokens() > options_.max_tokens_limit) {
    return invalid_argument("max_tokens " + std::to_string(p.max_tokens()) + " exceeds the limit " +
                            std::to_string(options_.max_tokens_limit) + " (lm.max_tokens_limit)");
  }
  const std::int64_t room = engine_->max_context() - prompt_len;
  if (room <= 0) {
    return invalid_argument("prompt has " + std::to_string(prompt_len) + " tokens; the context length is " +
                            std::to_string(engine_->max_context()));
  }
  g.max_tokens = p.max_tokens() > 0
                     ? p.max_tokens()
                     : static_cast<std::int32_t>(std::min<std::int64_t>(options_.default_max_tokens, room));
  g.sampling.temperature = p.temperature();
  g.sampling.top_k = p.top_k();
  g.sampling.top_p = p.top_p() == 0.0f ? 1.0f : p.top_p();
  g.sampling.repetition_penalty = p.repetition_penalty() == 0.0f ? 1.0f : p.repetition_penalty();
  if (p.repetition_last_n() < 0) return invalid_argument("repetition_last_n must be >= 0");
  g.sampling.penalty_last_n = p.repetition_last_n() == 0 ? 64 : p.repetition_last_n();
  g.sampling.seed = p.seed();
  if (g.sampling.seed == 0) {
    std::random_device rd;
    g.sampling.seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    if (g.sampling.seed == 0) g.sampling.seed = 1;
  }
  if (p.stop_size() > options_.max_stop_strings) {
    return invalid_argument("at most " + std::to_string(options_.max_stop_strings) + " stop strings, got " +
                            std::to_string(p.stop_size()));
  }
  for (const auto& s : p.stop()) {
    if (s.empty()) return invalid_argument("a stop string is empty");
    if (s.size() > options_.max_stop_bytes) {
      return invalid_argument("a stop string is " + std::to_string(s.size()) + " bytes; the limit is " +
                              std::to_string(options_.max_stop_bytes));
    }
    g.stop.push_back(s);
  }
  if (chat) {
    for (const auto& s : text_.chat_stop_strings) g.stop.push_back(s);
  }
  g.ignore_eos = p.ignore_eos();
  PARLEY_RETURN_IF_ERROR(engine_->validate(g));
  return g;
}

Status LmService::generate(const v1::GenerateRequest& request, service::StreamWriter<v1::GenerateResponse>& writer,
                           service::CallContext& context) {
  return generate(
      request, context.deadline(), [&writer](const v1::GenerateResponse& r) { return writer.write(r); },
      [&context] { return context.cancelled(); });
}

Status LmService::generate(const v1::GenerateRequest& request, Clock::time_point deadline,
                           const std::function<bool(const v1::GenerateResponse&)>& write,
                           const std::function<bool()>& is_cancelled) {
  PARLEY_ASSIGN_OR_RETURN(GenerationRequest g, build_request(request));
  if (engine_->in_flight() >= options_.max_pending) {
    return resource_exhausted("LM busy: " + std::to_string(engine_->in_flight()) +
                              " generations in progress or waiting (lm.max_pending)");
  }
  const std::uint64_t seed = g.sampling.seed;
  g.deadline = deadline;
  auto queue = std::make_shared<EventQueue>();
  g.sink = [queue](GenerationEvent&& ev) {
    {
      std::lock_guard lock(queue->mu);
      queue->events.push_back(std::move(ev));
    }
    queue->cv.notify_one();
  };
  PARLEY_ASSIGN_OR_RETURN(RequestId id, engine_->submit(std::move(g)));

  bool cancel_sent = false;
  // A passed deadline also reads as cancelled, and a client sends CANCEL at its own deadline,
  // which reaches us a little before ours (ours = arrival + remaining). The engine ends such a
  // sequence itself at the deadline (finish reason "deadline", DEADLINE_EXCEEDED), so a cancel
  // that close to the deadline is left to it; only an earlier one is forwarded.
  constexpr auto kDeadlineSlack = std::chrono::milliseconds(50);
  auto client_gone = [&] {
    return !cancel_sent && is_cancelled && is_cancelled() &&
           (deadline == Clock::time_point::max() || Clock::now() < deadline - kDeadlineSlack);
  };
  auto cancel = [&] {
    if (!cancel_sent) engine_->cancel(id);
    cancel_sent = true;
  };
  while (true) {
    std::deque<GenerationEvent> events;
    {
      std::unique_lock lock(queue->mu);
      // Cancellation is polled: the host's CallContext has no callback.
      queue->cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return !queue->events.empty(); });
      events.swap(queue->events);
    }
    if (events.empty()) {
      if (client_gone()) cancel();
      continue;
    }
    // Merge the deltas of several steps into one reply when the writer fell behind.
    v1::GenerateResponse reply;
    for (GenerationEvent& ev : events) {
      reply.mutable_text_delta()->append(ev.text);
      for (std::int32_t t : ev.tokens) reply.add_token_ids(t);
      if (!ev.finished) continue;
      if (!ev.status.is_ok()) {
        if (!cancel_sent && (!reply.text_delta().empty() || reply.token_ids_size() > 0)) (void)write(reply);
        return ev.status;
      }
      fill_final(reply, ev, seed);
      if (!cancel_sent) (void)write(reply);
      return cancel_sent ? cancelled("generation cancelled") : Status::ok();
    }
    if (cancel_sent) continue;  // draining until the engine confirms
    if (!write(reply) && (deadline == Clock::time_point::max() || Clock::now() < deadline - kDeadlineSlack)) cancel();
    if (client_gone()) cancel();
  }
}

Result<v1::TokenizeResponse> LmService::tokenize(const v1::TokenizeRequest& request) const {
  if (request.text().size() > options_.max_prompt_bytes) {
    return invalid_argument("text is " + std::to_string(request.text().size()) + " bytes; the limit is " +
                            std::to_string(options_.max_prompt_bytes));
  }
  const text::Tokenizer& tok = *text_.tokenizer;
  PARLEY_ASSIGN_OR_RETURN(std::vector<text::TokenId> ids,
                          tok.encode(request.text(), {.add_special = request.add_special(),
                                                      .parse_special = request.parse_special()}));
  v1::TokenizeResponse r;
  for (text::TokenId id : ids) {
    r.add_token_ids(id);
    r.add_pieces(std::string(tok.token_text(id)));
  }
  return r;
}

v1::ModelInfoResponse LmService::model_info() const {
  v1::ModelInfoResponse r;
  const auto& f = model_->gguf();
  r.set_name(f.get_string("general.name").value_or(std::filesystem::path(options_.model_path).filename().string()));
  r.set_architecture(f.get_string("general.architecture").value_or("llama"));
  std::int64_t params = 0;
  for (const auto& t : f.tensors()) params += t.n_elements;
  r.set_parameters(params);
  r.set_context_length(static_cast<std::int32_t>(engine_->max_context()));
  r.set_vocab_size(static_cast<std::int32_t>(model_->config().vocab_size));
  r.set_weight_format(weight_format(model_->options()));
  r.set_device(model_->device().device().to_string());
  r.set_max_batch(options_.max_batch);
  r.set_kv_pages(options_.kv_pages);
  r.set_page_size(static_cast<std::int32_t>(options_.page_size));
  r.set_max_prompt_tokens(options_.max_prompt_tokens);
  r.set_max_tokens_limit(options_.max_tokens_limit);
  r.set_chat_template(std::string(text::chat_template_family_name(text_.chat.family())));
  return r;
}

}  // namespace parley::lm
