// Integration-test support for parley-lm: start the real process on free loopback ports, call
// Generate as a stream over the transport, read /metrics.
// Depends on tests/support (ChildProcess, net), shared/transport, proto lm.proto.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parley/v1/lm.pb.h"
#include "shared/transport/client.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley::lm::itest {

using namespace std::chrono_literals;

struct LmProcess {
  int port = 0;
  int http_port = 0;
  std::unique_ptr<::parley::testing::ChildProcess> process;
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port); }

  /// Starts parley-lm with `flags`; waits for /readyz (model loaded).
  static std::unique_ptr<LmProcess> start(const std::vector<std::string>& flags, const std::string& log_dir,
                                          std::chrono::seconds ready_timeout = 60s) {
    auto p = std::make_unique<LmProcess>();
    p->port = ::parley::testing::free_tcp_port();
    p->http_port = ::parley::testing::free_tcp_port();
    std::vector<std::string> argv = {::parley::testing::built_binary("services/lm/parley-lm"),
                                     "--transport.bind=" + p->endpoint(),
                                     "--http.port=" + std::to_string(p->http_port), "--service.drain_grace=2s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    p->process = std::make_unique<::parley::testing::ChildProcess>(argv, log_dir + "/parley-lm-" + std::to_string(p->port) + ".log");
    const bool ready = ::parley::testing::wait_until(
        [&] {
          if (!p->process->running()) return false;
          auto r = ::parley::testing::http_get(p->http_port, "/readyz");
          return r.ok() && r->status == 200;
        },
        ready_timeout);
    EXPECT_TRUE(ready) << p->process->log();
    return ready ? std::move(p) : nullptr;
  }

  std::string metrics() const {
    auto r = ::parley::testing::http_get(http_port, "/metrics");
    return r.ok() ? r->body : "";
  }
  double metric(const std::string& name, const std::string& labels = "") const {
    return ::parley::testing::metric_value(metrics(), name, labels);
  }
};

inline std::unique_ptr<transport::Client> make_client(const std::string& endpoint) {
  transport::ClientOptions o;
  o.targets = {endpoint};
  o.name = "lm";
  o.max_wait_for_replica = 5s;
  auto c = transport::Client::create(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(*c) : nullptr;
}

/// One Generate call's outcome.
struct StreamResult {
  Status status;
  std::string text;
  std::vector<std::int32_t> tokens;
  int replies = 0;           // payload-carrying replies
  v1::GenerateResponse last;  // the one with finish_reason
};

/// A Generate stream in flight; wait() blocks until it ends.
class GenerateCall {
 public:
  GenerateCall(transport::Client& client, const v1::GenerateRequest& req, std::chrono::milliseconds timeout) {
    v1::Envelope env;
    env.set_method("parley.v1.Lm/Generate");
    env.mutable_payload()->PackFrom(req);
    transport::CallOptions o;
    o.timeout = timeout;
    auto state = state_;
    handle_ = client.call(std::move(env), o, [state](Result<v1::Envelope> r) {
      std::lock_guard lock(state->mu);
      if (state->done) return;
      if (!r.ok()) {
        state->result.status = r.status();
        state->done = true;
      } else {
        if (r->has_payload()) {
          v1::GenerateResponse part;
          if (r->payload().UnpackTo(&part)) {
            ++state->result.replies;
            state->result.text += part.text_delta();
            state->result.tokens.insert(state->result.tokens.end(), part.token_ids().begin(), part.token_ids().end());
            if (!part.finish_reason().empty()) state->result.last = part;
          }
        }
        if (r->end_of_stream()) state->done = true;
      }
      state->cv.notify_all();
    });
  }
  /// Blocks until at least `n` replies came (or the call ended); false on timeout.
  bool wait_replies(int n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, timeout, [&] { return state_->done || state_->result.replies >= n; });
  }
  StreamResult wait(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lock(state_->mu);
    const bool ended = state_->cv.wait_for(lock, timeout, [&] { return state_->done; });
    EXPECT_TRUE(ended) << "Generate call hung";
    return state_->result;
  }
  void cancel() { handle_.cancel(); }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    StreamResult result;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
  transport::CallHandle handle_;
};

inline v1::GenerateRequest prompt_request(const std::string& prompt, int max_tokens, bool ignore_eos = true) {
  v1::GenerateRequest r;
  r.set_prompt(prompt);
  r.mutable_params()->set_max_tokens(max_tokens);
  r.mutable_params()->set_ignore_eos(ignore_eos);
  return r;
}

template <typename Reply, typename Request>
Result<Reply> unary(transport::Client& client, const std::string& method, const Request& req) {
  v1::Envelope env;
  env.set_method(method);
  env.mutable_payload()->PackFrom(req);
  auto r = client.call_sync(std::move(env), {.timeout = 10s});
  if (!r.ok()) return r.status();
  Reply out;
  if (!r->payload().UnpackTo(&out)) return internal_error("wrong reply type");
  return out;
}

}  // namespace parley::lm::itest
