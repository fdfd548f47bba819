// Services over ZeroMQ (transport::Client per service) and HTTP webhooks (Beast client).
// Depends on transport_services.h, shared/transport, Boost.Asio/Beast.
#include "services/dialog/engine/transport_services.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "services/dialog/engine/replica_fanout.h"
#include "shared/common/utf8.h"
#include "shared/transport/client.h"

namespace parley::dialog {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

/// `service_us`: the time the service reported spending (the reply's stage timings, summed).
CallInfo info_of(Clock::time_point start, std::int64_t service_us = 0) {
  CallInfo info;
  info.round_trip = duration_cast<microseconds>(Clock::now() - start);
  info.service_time = microseconds(service_us);
  return info;
}

class TransportServices final : public Services {
 public:
  TransportServices(std::unique_ptr<transport::Client> nlu, std::unique_ptr<transport::Client> qa,
                    std::unique_ptr<transport::Client> lm, std::shared_ptr<ReplicaFanout> nlu_fanout,
                    std::shared_ptr<ReplicaFanout> qa_fanout, int webhook_threads, WebhookGuard guard)
      : nlu_(std::move(nlu)),
        qa_(std::move(qa)),
        lm_(std::move(lm)),
        nlu_fanout_(std::move(nlu_fanout)),
        qa_fanout_(std::move(qa_fanout)),
        guard_(std::move(guard)),
        pool_(static_cast<std::size_t>(webhook_threads)) {
    nlu_fanout_->attach(nlu_.get());
    qa_fanout_->attach(qa_.get());
  }
  ~TransportServices() override {
    nlu_fanout_->stop();  // its watcher uses the clients
    qa_fanout_->stop();
    pool_.join();
  }

  void cancel_blocking_calls() override {
    nlu_fanout_->stop();  // Train / Ingest / Drop go through the fanouts
    qa_fanout_->stop();
  }

  void parse(const v1::ParseRequest& req, const CallMeta& meta, Done<v1::ParseResponse> done) override {
    unary<v1::ParseResponse>(*nlu_, "parley.v1.Nlu/Parse", req, meta, std::move(done));
  }
  // Every replica runs each bot's fine-tuning job itself: ask them all.
  void training_status(const v1::TrainingStatusRequest& req, const CallMeta& meta,
                       std::function<void(std::vector<ReplicaTrainingStatus>)> done) override {
    nlu_fanout_->ask_each(bare_envelope("parley.v1.Nlu/TrainingStatus", req), meta.deadline,
                          [done = std::move(done)](std::vector<ReplicaFanout::ReplicaReply> replies) {
                            std::vector<ReplicaTrainingStatus> out;
                            for (auto& r : replies) {
                              out.push_back({r.endpoint, unpack<v1::TrainingStatusResponse>(std::move(r.reply))});
                            }
                            done(std::move(out));
                          });
  }
  void answer(const v1::AnswerRequest& req, const CallMeta& meta, Done<v1::AnswerResponse> done) override {
    unary<v1::AnswerResponse>(*qa_, "parley.v1.Qa/Answer", req, meta, std::move(done));
  }

  void generate(const v1::GenerateRequest& req, const CallMeta& meta, std::function<void(const std::string&)> on_delta,
                Done<v1::GenerateResponse> done) override {
    v1::Envelope env = envelope("parley.v1.Lm/Generate", req, meta);
    const auto start = Clock::now();
    struct Acc {
      v1::GenerateResponse all;
      microseconds service{0};
    };
    auto acc = std::make_shared<Acc>();
    // Replies read as views of the received bytes (call_view): each token's payload is parsed
    // straight into a GenerateResponse, no Envelope built for it.
    auto handle = lm_->call_view(std::move(env), transport::CallOptions{.timeout = {}, .deadline = meta.deadline, .idempotent = true},
              [acc, start, on_delta = std::move(on_delta), done = std::move(done)](Result<transport::ReplyView>&& r) {
                if (!r.ok()) {
                  done(r.status(), info_of(start));
                  return;
                }
                acc->service += microseconds(r->service_time_us);
                if (r->has_payload) {
                  v1::GenerateResponse part;
                  if (!r->unpack(part)) {
                    done(internal_error("lm reply is not a GenerateResponse"), info_of(start));
                    return;
                  }
                  if (!part.text_delta().empty()) {
                    on_delta(part.text_delta());
                    acc->all.mutable_text_delta()->append(part.text_delta());
                  }
                  if (!part.finish_reason().empty()) acc->all.set_finish_reason(part.finish_reason());
                  if (part.has_usage()) *acc->all.mutable_usage() = part.usage();
                }
                if (r->end_of_stream) {
                  CallInfo info = info_of(start);
                  info.service_time = acc->service;
                  done(std::move(acc->all), info);
                }
              });
    // A cancelled turn (voice barge-in) stops the generation: CANCEL reaches the LM, which frees
    // the sequence's KV pages; `done` gets CANCELLED.
    if (meta.cancel) meta.cancel->on_cancel([handle]() mutable { handle.cancel(); });
  }

  void webhook(const WebhookDef& hook, std::string json_body, const CallMeta& meta, Done<std::string> done) override {
    const auto timeout = std::max(std::chrono::milliseconds(1),
                                  std::min(hook.timeout, duration_cast<std::chrono::milliseconds>(meta.deadline - Clock::now())));
    // The turn's cancellation (a client that went away, a barge-in) closes the connection.
    asio::post(pool_, [this, url = hook.url, body = std::move(json_body), timeout, cancel = meta.cancel,
                       done = std::move(done)] {
      const auto start = Clock::now();
      auto r = http_post_json(guard_, url, body, timeout, cancel);
      done(std::move(r), info_of(start));
    });
  }

  // Bot state goes to EVERY replica (and is replayed on each new one): any replica can then
  // serve any bot's turns (replica_fanout.h).
  Result<v1::TrainResponse> train(const v1::TrainRequest& req, std::chrono::milliseconds timeout) override {
    return unpack<v1::TrainResponse>(nlu_fanout_->put(req.bot_id(), bare_envelope("parley.v1.Nlu/Train", req), timeout));
  }
  Result<v1::IngestResponse> ingest(const v1::IngestRequest& req, std::chrono::milliseconds timeout) override {
    return unpack<v1::IngestResponse>(qa_fanout_->put(req.kb_id(), bare_envelope("parley.v1.Qa/Ingest", req), timeout));
  }
  Status drop_bot(const std::string& bot_id, std::chrono::milliseconds timeout) override {
    v1::DropBotRequest nlu;
    nlu.set_bot_id(bot_id);
    Status a = nlu_fanout_->drop(bot_id, bare_envelope("parley.v1.Nlu/DropBot", nlu), timeout);
    v1::DropKnowledgeBaseRequest qa;
    qa.set_kb_id(bot_id);
    Status b = qa_fanout_->drop(bot_id, bare_envelope("parley.v1.Qa/DropKnowledgeBase", qa), timeout);
    if (!a.is_ok()) return a;
    return b;
  }

 private:
  static v1::Envelope envelope(const std::string& method, const google::protobuf::Message& req, const CallMeta& meta) {
    v1::Envelope env;
    env.set_method(method);
    env.set_session_id(meta.session_id);
    env.set_trace_id(meta.trace_id);
    env.mutable_payload()->PackFrom(req);
    return env;
  }

  template <typename Reply>
  static void unary(transport::Client& client, const std::string& method, const google::protobuf::Message& req,
                    const CallMeta& meta, Done<Reply> done) {
    const auto start = Clock::now();
    auto handle = client.call_view(envelope(method, req, meta), transport::CallOptions{.timeout = {}, .deadline = meta.deadline, .idempotent = true},
                [start, done = std::move(done)](Result<transport::ReplyView>&& r) {
                  if (!r.ok()) return done(r.status(), info_of(start));
                  Reply reply;
                  if (!r->unpack(reply)) {
                    return done(internal_error("reply is not a " + reply.GetDescriptor()->full_name()),
                                info_of(start, r->service_time_us));
                  }
                  done(std::move(reply), info_of(start, r->service_time_us));
                });
    if (meta.cancel) meta.cancel->on_cancel([handle]() mutable { handle.cancel(); });
  }

  static v1::Envelope bare_envelope(const std::string& method, const google::protobuf::Message& req) {
    v1::Envelope env;
    env.set_method(method);
    env.mutable_payload()->PackFrom(req);
    return env;
  }

  template <typename Reply>
  static Result<Reply> unpack(Result<v1::Envelope> r) {
    if (!r.ok()) return r.status();
    Reply reply;
    if (!r->payload().UnpackTo(&reply)) return internal_error("reply is not a " + reply.GetDescriptor()->full_name());
    return reply;
  }

  std::unique_ptr<transport::Client> nlu_, qa_, lm_;
  std::shared_ptr<ReplicaFanout> nlu_fanout_, qa_fanout_;
  WebhookGuard guard_;
  asio::thread_pool pool_;
};

}  // namespace

Result<std::string> http_post_json(const WebhookGuard& guard, const std::string& url, const std::string& body,
                                   std::chrono::milliseconds timeout, std::shared_ptr<Cancellation> cancel) {
  auto u = parse_webhook_url(url);
  if (!u.ok()) return u.status();
  const WebhookGuardOptions& limits = guard.options();
  if (body.size() > limits.max_request_bytes) {
    return invalid_argument("webhook body is " + std::to_string(body.size()) + " bytes; the limit is " +
                            std::to_string(limits.max_request_bytes) + " (dialog.webhook_max_body_bytes)");
  }
  const std::string where = "webhook " + excerpt(url, 120);
  // Everything the cancel callback may touch lives here, shared: the callback can run after
  // this function returned (then it finds the connection gone and does nothing).
  struct Call {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver{ioc};
    beast::tcp_stream stream{ioc};
    std::atomic<bool> cancelled{false};
  };
  auto call = std::make_shared<Call>();
  if (cancel) {
    cancel->on_cancel([weak = std::weak_ptr<Call>(call)] {
      if (auto c = weak.lock()) {
        c->cancelled = true;
        asio::post(c->ioc, [c] {
          c->resolver.cancel();
          c->stream.cancel();
        });
      }
    });
  }
  try {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, u->target, 11};
    req.set(bhttp::field::host, u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host);
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::user_agent, "parley-dialog");
    req.keep_alive(false);
    req.body() = body;
    req.prepare_payload();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(limits.max_response_bytes);
    parser.header_limit(16 << 10);
    beast::flat_buffer buffer;
    beast::error_code result;
    Status denied = Status::ok();
    const char* stage = "resolve";
    bool timed_out = false;
    asio::steady_timer timer(call->ioc, timeout);
    timer.async_wait([&](beast::error_code ec) {
      if (!ec) {
        timed_out = true;
        call->resolver.cancel();
        call->stream.cancel();
      }
    });
    call->resolver.async_resolve(
        u->host, std::to_string(u->port),
        [&](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
          if (ec) {
            result = ec;
            timer.cancel();
            return;
          }
          // Connect only to addresses the guard allows: the check is on what we connect to, not
          // on the name (a name may resolve to a cluster-internal address, or change between
          // two lookups).
          std::vector<asio::ip::tcp::endpoint> allowed;
          for (const auto& r : results) {
            Status ok = guard.check_address(*u, r.endpoint().address());
            if (ok.is_ok()) {
              allowed.push_back(r.endpoint());
            } else if (denied.is_ok()) {
              denied = ok;
            }
          }
          if (allowed.empty()) {
            if (denied.is_ok()) denied = unavailable(where + ": the host resolved to no address");
            timer.cancel();
            return;
          }
          stage = "connect";
          call->stream.async_connect(allowed, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
            if (ec) {
              result = ec;
              timer.cancel();
              return;
            }
            stage = "write";
            bhttp::async_write(call->stream, req, [&](beast::error_code ec, std::size_t) {
              if (ec) {
                result = ec;
                timer.cancel();
                return;
              }
              stage = "read";
              // The header first: Boost 1.74's async_read of a whole message does not apply the
              // parser's body_limit when the header and body arrive together; reading the header
              // on its own does (and a too-long Content-Length fails right there).
              bhttp::async_read_header(call->stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
                if (ec) {
                  result = ec;
                  timer.cancel();
                  return;
                }
                bhttp::async_read(call->stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
                  result = ec;
                  timer.cancel();
                });
              });
            });
          });
        });
    call->ioc.run();
    beast::error_code ignored;
    call->stream.socket().close(ignored);
    if (call->cancelled) return cancelled(where + ": the turn was cancelled");
    if (timed_out) return deadline_exceeded(where + " did not answer within " + std::to_string(timeout.count()) + " ms");
    if (!denied.is_ok()) return denied;
    if (result == bhttp::error::body_limit) {
      return invalid_argument(where + ": reply larger than " + std::to_string(limits.max_response_bytes) + " bytes");
    }
    if (result) return unavailable(where + ": " + stage + " failed: " + result.message());
    const auto& res = parser.get();
    const int status = static_cast<int>(res.result_int());
    if (status >= 300 && status < 400) {
      return internal_error(where + " answered a redirect (HTTP " + std::to_string(status) +
                            "); redirects are not followed");
    }
    if (status < 200 || status > 299) {
      return internal_error(where + " answered HTTP " + std::to_string(status));
    }
    return parser.release().body();
  } catch (const std::exception& e) {
    return unavailable(where + ": " + e.what());
  }
}

Result<std::unique_ptr<Services>> make_transport_services(const TransportServicesOptions& options) {
  auto make = [&](const std::vector<std::string>& targets, const std::string& name,
                  std::shared_ptr<ReplicaFanout> fanout) -> Result<std::unique_ptr<transport::Client>> {
    transport::ClientOptions co;
    co.targets = targets;
    co.name = name;
    co.max_wait_for_replica = options.max_wait_for_replica;
    co.curve = options.curve;
    // Turns go to replicas that hold every bot (a new one gets them replayed first).
    if (fanout) co.replica_filter = [fanout](const std::string& endpoint) { return fanout->synced(endpoint); };
    return transport::Client::create(co);
  };
  auto fanout = [&](const std::string& name) {
    return std::make_shared<ReplicaFanout>(ReplicaFanoutOptions{
        .name = name,
        .curve = options.curve,
        .replay_timeout = options.replay_timeout,
        .wait_for_replica = options.max_wait_for_replica,
        .poll_interval = options.replica_poll_interval});
  };
  auto nlu_fanout = fanout("nlu");
  auto qa_fanout = fanout("qa");
  auto nlu = make(options.nlu_targets, "nlu", nlu_fanout);
  if (!nlu.ok()) return nlu.status().with_context("nlu client");
  auto qa = make(options.qa_targets, "qa", qa_fanout);
  if (!qa.ok()) return qa.status().with_context("qa client");
  auto lm = make(options.lm_targets, "lm", nullptr);
  if (!lm.ok()) return lm.status().with_context("lm client");
  return std::unique_ptr<Services>(new TransportServices(std::move(*nlu), std::move(*qa), std::move(*lm), nlu_fanout,
                                                         qa_fanout, std::max(1, options.webhook_threads),
                                                         options.webhook_guard));
}

}  // namespace parley::dialog
