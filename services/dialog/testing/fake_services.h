// Model-free stand-ins for the NLU, QA and LM services: a keyword intent matcher with simple slot
// extraction, a word-overlap knowledge base, and an LM that streams a canned reply. Served
// in-process (FakeServices, for unit tests) or over the real transport (FakeServiceServer, for
// integration tests and the load benchmark). Test-only: never linked into parley-dialog.
// Depends on services.h, shared/transport.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parley/v1/lm.pb.h"
#include "parley/v1/nlu.pb.h"
#include "parley/v1/qa.pb.h"
#include "services/dialog/engine/services.h"
#include "shared/transport/server.h"

namespace parley::dialog::testing {

/// Keyword NLU: intent = the example with the highest word overlap (digits count as one token
/// class), confidence = that overlap (Jaccard); slots: categorical synonyms, numbers, times,
/// dates, regexes, free text for the expected slot. Thread-safe.
class KeywordNlu {
 public:
  v1::TrainResponse train(const v1::TrainRequest& req);
  Result<v1::ParseResponse> parse(const v1::ParseRequest& req) const;
  void drop(const std::string& bot_id);
  bool knows(const std::string& bot_id) const;
  /// What the real NLU answers for a bot without a fine-tuning job (state NONE, serving
  /// "frozen"); when the bot asked for fine-tuning, the message says this stand-in does not do
  /// it. NOT_FOUND for a bot it was not trained on.
  Result<v1::TrainingStatusResponse> training_status(const v1::TrainingStatusRequest& req) const;
  /// The last TrainRequest for `bot_id` (empty when none).
  v1::TrainRequest last_train(const std::string& bot_id) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, v1::TrainRequest> bots_;  // guarded by mu_
};

/// Word-overlap QA over ingested documents (sentence = passage). Thread-safe.
class KeywordQa {
 public:
  v1::IngestResponse ingest(const v1::IngestRequest& req);
  Result<v1::AnswerResponse> answer(const v1::AnswerRequest& req) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<v1::Passage>> kbs_;  // guarded by mu_
};

/// The fake LM's reply to `user_text`, as the token deltas it streams.
std::vector<std::string> fake_lm_tokens(const std::string& user_text);

/// In-process Services: replies inline (on the caller's thread). Switches make a service fail.
class FakeServices final : public Services {
 public:
  void parse(const v1::ParseRequest& req, const CallMeta& meta, Done<v1::ParseResponse> done) override;
  void answer(const v1::AnswerRequest& req, const CallMeta& meta, Done<v1::AnswerResponse> done) override;
  void generate(const v1::GenerateRequest& req, const CallMeta& meta, std::function<void(const std::string&)> on_delta,
                Done<v1::GenerateResponse> done) override;
  void webhook(const WebhookDef& hook, std::string json_body, const CallMeta& meta, Done<std::string> done) override;
  /// One entry per name in `nlu_replicas`: on_training_status(replica, req) when set, else
  /// KeywordNlu's answer.
  void training_status(const v1::TrainingStatusRequest& req, const CallMeta& meta,
                       std::function<void(std::vector<ReplicaTrainingStatus>)> done) override;
  Result<v1::TrainResponse> train(const v1::TrainRequest& req, std::chrono::milliseconds timeout) override;
  Result<v1::IngestResponse> ingest(const v1::IngestRequest& req, std::chrono::milliseconds timeout) override;

  std::atomic<bool> nlu_down{false}, qa_down{false}, lm_down{false};
  /// A fine-tuning job's state as a real NLU replica would report it (tests of what the API shows).
  std::function<Result<v1::TrainingStatusResponse>(const std::string& replica, const v1::TrainingStatusRequest&)>
      on_training_status;
  /// The NLU replicas training_status answers for (tests of several replicas).
  std::vector<std::string> nlu_replicas{"in-process"};
  std::atomic<int> training_status_calls{0};
  /// Generate streams its tokens at once but does not finish until release_generate(); a held
  /// call cancelled through CallMeta::cancel finishes at once with CANCELLED.
  std::atomic<bool> hold_generate{false};
  /// Finishes the held Generate calls; returns how many.
  int release_generate();
  std::atomic<int> generate_cancelled{0};
  /// Webhook behaviour: body in, (status, reply body) out. Default: 503.
  std::function<Result<std::string>(const std::string& url, const std::string& body)> on_webhook;
  std::atomic<int> parse_calls{0}, answer_calls{0}, generate_calls{0}, webhook_calls{0}, train_calls{0};
  /// The last GenerateRequest (to check the prompt the LM got).
  v1::GenerateRequest last_generate;

  KeywordNlu nlu;
  KeywordQa qa;

 private:
  struct Held {
    v1::GenerateResponse reply;
    Done<v1::GenerateResponse> done;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::mutex held_mu_;
  std::vector<Held> held_;  // guarded by held_mu_
};

/// One fake service on the real transport: "nlu" answers parley.v1.Nlu/{Train,Parse,DropBot,TrainingStatus},
/// "qa" parley.v1.Qa/{Ingest,Answer}, "lm" parley.v1.Lm/Generate (a stream). Replies carry an
/// "inference" stage timing like the real services. `delay` simulates service time (slept on a
/// worker thread, never on the I/O thread).
class FakeServiceServer {
 public:
  /// Binds tcp://127.0.0.1:* (or `endpoint`). kind: "nlu", "qa" or "lm".
  static Result<std::unique_ptr<FakeServiceServer>> start(std::string kind, std::string endpoint = "tcp://127.0.0.1:*",
                                                          int worker_threads = 2);
  ~FakeServiceServer();
  const std::string& endpoint() const { return endpoint_; }
  std::atomic<int> delay_us{0};
  /// "lm": pause between streamed tokens (a generation long enough to be interrupted); a
  /// cancelled call stops streaming and is counted in `cancelled`.
  std::atomic<int> token_delay_us{0};
  std::atomic<int> cancelled{0};
  /// Answer every call with UNAVAILABLE (a broken dependency) instead of working.
  std::atomic<bool> failing{false};
  std::atomic<int> calls{0};
  KeywordNlu nlu;
  KeywordQa qa;

 private:
  struct Impl;
  FakeServiceServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace parley::dialog::testing
