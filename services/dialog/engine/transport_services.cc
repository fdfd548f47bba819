// Services over ZeroMQ (transport::Client per service) and HTTP webhooks (Beast client).
// Depends on transport_services.h, shared/transport, Boost.Asio/Beast.
#include "services/dialog/engine/transport_services.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "shared/transport/client.h"

namespace parley::dialog {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

CallInfo info_of(Clock::time_point start, const v1::Envelope* env) {
  CallInfo info;
  info.round_trip = duration_cast<microseconds>(Clock::now() - start);
  if (env) {
    for (const auto& t : env->timings()) info.service_time += microseconds(t.duration_us());
  }
  return info;
}

class TransportServices final : public Services {
 public:
  TransportServices(std::unique_ptr<transport::Client> nlu, std::unique_ptr<transport::Client> qa,
                    std::unique_ptr<transport::Client> lm, int webhook_threads)
      : nlu_(std::move(nlu)), qa_(std::move(qa)), lm_(std::move(lm)), pool_(static_cast<std::size_t>(webhook_threads)) {}
  ~TransportServices() override { pool_.join(); }

  void parse(const v1::ParseRequest& req, const CallMeta& meta, Done<v1::ParseResponse> done) override {
    unary<v1::ParseResponse>(*nlu_, "parley.v1.Nlu/Parse", req, meta, std::move(done));
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
    auto handle = lm_->call(std::move(env), transport::CallOptions{.timeout = {}, .deadline = meta.deadline, .idempotent = true},
              [acc, start, on_delta = std::move(on_delta), done = std::move(done)](Result<v1::Envelope> r) {
                if (!r.ok()) {
                  done(r.status(), info_of(start, nullptr));
                  return;
                }
                for (const auto& t : r->timings()) acc->service += microseconds(t.duration_us());
                if (r->has_payload()) {
                  v1::GenerateResponse part;
                  if (!r->payload().UnpackTo(&part)) {
                    done(internal_error("lm reply is not a GenerateResponse"), info_of(start, nullptr));
                    return;
                  }
                  if (!part.text_delta().empty()) {
                    on_delta(part.text_delta());
                    acc->all.mutable_text_delta()->append(part.text_delta());
                  }
                  if (!part.finish_reason().empty()) acc->all.set_finish_reason(part.finish_reason());
                  if (part.has_usage()) *acc->all.mutable_usage() = part.usage();
                }
                if (r->end_of_stream()) {
                  CallInfo info = info_of(start, nullptr);
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
    asio::post(pool_, [url = hook.url, body = std::move(json_body), timeout, done = std::move(done)] {
      const auto start = Clock::now();
      auto r = http_post_json(url, body, timeout);
      done(std::move(r), info_of(start, nullptr));
    });
  }

  Result<v1::TrainResponse> train(const v1::TrainRequest& req, std::chrono::milliseconds timeout) override {
    return unary_sync<v1::TrainResponse>(*nlu_, "parley.v1.Nlu/Train", req, timeout);
  }
  Result<v1::IngestResponse> ingest(const v1::IngestRequest& req, std::chrono::milliseconds timeout) override {
    return unary_sync<v1::IngestResponse>(*qa_, "parley.v1.Qa/Ingest", req, timeout);
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
    auto handle = client.call(envelope(method, req, meta), transport::CallOptions{.timeout = {}, .deadline = meta.deadline, .idempotent = true},
                [start, done = std::move(done)](Result<v1::Envelope> r) {
                  if (!r.ok()) return done(r.status(), info_of(start, nullptr));
                  Reply reply;
                  if (!r->payload().UnpackTo(&reply)) {
                    return done(internal_error("reply is not a " + reply.GetDescriptor()->full_name()), info_of(start, &*r));
                  }
                  done(std::move(reply), info_of(start, &*r));
                });
    if (meta.cancel) meta.cancel->on_cancel([handle]() mutable { handle.cancel(); });
  }

  template <typename Reply>
  static Result<Reply> unary_sync(transport::Client& client, const std::string& method, const google::protobuf::Message& req,
                                  std::chrono::milliseconds timeout) {
    v1::Envelope env;
    env.set_method(method);
    env.mutable_payload()->PackFrom(req);
    auto r = client.call_sync(std::move(env), transport::CallOptions{.timeout = timeout, .idempotent = true});
    if (!r.ok()) return r.status();
    Reply reply;
    if (!r->payload().UnpackTo(&reply)) return internal_error("reply is not a " + reply.GetDescriptor()->full_name());
    return reply;
  }

  std::unique_ptr<transport::Client> nlu_, qa_, lm_;
  asio::thread_pool pool_;
};

struct ParsedUrl {
  std::string host, port, target;
};

Result<ParsedUrl> parse_url(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return invalid_argument("webhook url must start with http://: " + url);
  std::string rest = url.substr(prefix.size());
  ParsedUrl u;
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    u.host = hostport;
    u.port = "80";
  } else {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  }
  if (u.host.empty()) return invalid_argument("webhook url has no host: " + url);
  return u;
}

}  // namespace

Result<std::string> http_post_json(const std::string& url, const std::string& body, std::chrono::milliseconds timeout) {
  auto u = parse_url(url);
  if (!u.ok()) return u.status();
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, u->target, 11};
    req.set(bhttp::field::host, u->host);
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::user_agent, "parley-dialog");
    req.body() = body;
    req.prepare_payload();
    bhttp::response<bhttp::string_body> res;
    beast::flat_buffer buffer;
    beast::error_code result;
    const char* stage = "resolve";
    bool timed_out = false;
    asio::steady_timer timer(ioc, timeout);
    timer.async_wait([&](beast::error_code ec) {
      if (!ec) {
        timed_out = true;
        resolver.cancel();
        stream.cancel();
      }
    });
    resolver.async_resolve(u->host, u->port, [&](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
      if (ec) {
        result = ec;
        timer.cancel();
        return;
      }
      stage = "connect";
      stream.async_connect(results, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
        if (ec) {
          result = ec;
          timer.cancel();
          return;
        }
        stage = "write";
        bhttp::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
          if (ec) {
            result = ec;
            timer.cancel();
            return;
          }
          stage = "read";
          bhttp::async_read(stream, buffer, res, [&](beast::error_code ec, std::size_t) {
            result = ec;
            timer.cancel();
          });
        });
      });
    });
    ioc.run();
    if (timed_out) return deadline_exceeded("webhook " + url + " did not answer within " + std::to_string(timeout.count()) + " ms");
    if (result) {
      return unavailable("webhook " + url + ": " + stage + " failed: " + result.message());
    }
    const int status = static_cast<int>(res.result_int());
    if (status < 200 || status > 299) {
      return internal_error("webhook " + url + " answered HTTP " + std::to_string(status));
    }
    return std::move(res.body());
  } catch (const std::exception& e) {
    return unavailable("webhook " + url + ": " + e.what());
  }
}

Result<std::unique_ptr<Services>> make_transport_services(const TransportServicesOptions& options) {
  auto make = [&](const std::vector<std::string>& targets, const std::string& name) -> Result<std::unique_ptr<transport::Client>> {
    transport::ClientOptions co;
    co.targets = targets;
    co.name = name;
    co.max_wait_for_replica = options.max_wait_for_replica;
    return transport::Client::create(co);
  };
  auto nlu = make(options.nlu_targets, "nlu");
  if (!nlu.ok()) return nlu.status().with_context("nlu client");
  auto qa = make(options.qa_targets, "qa");
  if (!qa.ok()) return qa.status().with_context("qa client");
  auto lm = make(options.lm_targets, "lm");
  if (!lm.ok()) return lm.status().with_context("lm client");
  return std::unique_ptr<Services>(
      new TransportServices(std::move(*nlu), std::move(*qa), std::move(*lm), std::max(1, options.webhook_threads)));
}

}  // namespace parley::dialog
