// parley.v1.Dialog/* on the transport (see wire_methods.h).
#include "services/dialog/api/wire_methods.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "parley/v1/dialog.pb.h"

namespace parley::dialog {
namespace {

Status check_turn(const v1::TurnRequest& r, const WireLimits& limits) {
  if (r.session_id().empty()) return invalid_argument("session_id is required");
  if (r.text().find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid_argument("text is required and must not be blank");
  }
  if (r.text().size() > limits.max_text_bytes) {
    return invalid_argument("text is " + std::to_string(r.text().size()) + " bytes; the limit is " +
                            std::to_string(limits.max_text_bytes));
  }
  return Status::ok();
}

// What a turn's callbacks (on actor threads) hand to the handler's worker thread, which alone
// writes to the transport. Shared: a handler that gives up (deadline) leaves it to the callbacks.
struct TurnChannel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> tokens;
  std::optional<Result<v1::TurnResponse>> result;
};

// A turn ends by the orchestrator's own dialog.turn_timeout; the caller's deadline bounds the
// wait too, so a worker is never held past what the client will read.
constexpr auto kPoll = std::chrono::milliseconds(10);

}  // namespace

void register_wire_methods(service::Host& host, SessionManager& sessions, WireLimits limits) {
  host.unary<v1::CreateSessionRequest, v1::Session>(
      "parley.v1.Dialog/CreateSession",
      [&sessions](const v1::CreateSessionRequest& r, service::CallContext&) -> Result<v1::Session> {
        if (r.bot_id().empty()) return invalid_argument("bot_id is required");
        std::map<std::string, std::string> metadata(r.metadata().begin(), r.metadata().end());
        return sessions.create(r.bot_id(), metadata);
      });
  host.unary<v1::SessionRequest, v1::Session>(
      "parley.v1.Dialog/GetSession", [&sessions](const v1::SessionRequest& r, service::CallContext&) {
        return sessions.get(r.session_id());
      });
  host.unary<v1::SessionRequest, v1::DeleteSessionResponse>(
      "parley.v1.Dialog/DeleteSession",
      [&sessions](const v1::SessionRequest& r, service::CallContext&) -> Result<v1::DeleteSessionResponse> {
        PARLEY_RETURN_IF_ERROR(sessions.remove(r.session_id()));
        return v1::DeleteSessionResponse{};
      });

  // Both turn methods: start the turn, then drain the channel on this worker thread. `on_event`
  // gets each token (stream only); returns the turn's result, or DEADLINE_EXCEEDED when the
  // caller's deadline passes first (the turn still completes and is stored).
  auto run_turn = [&sessions, limits](const v1::TurnRequest& r, service::CallContext& ctx, bool stream,
                                      const std::function<void(const std::string&)>& on_token)
      -> Result<v1::TurnResponse> {
    PARLEY_RETURN_IF_ERROR(check_turn(r, limits));
    auto ch = std::make_shared<TurnChannel>();
    TokenFn tokens;
    if (stream) {
      tokens = [ch](const std::string& delta) {
        std::lock_guard lock(ch->mu);
        ch->tokens.push_back(delta);
        ch->cv.notify_one();
      };
    }
    sessions.turn(r.session_id(), r.text(), std::move(tokens), [ch](Result<v1::TurnResponse> result) {
      std::lock_guard lock(ch->mu);
      ch->result = std::move(result);
      ch->cv.notify_one();
    });
    std::unique_lock lock(ch->mu);
    while (true) {
      ch->cv.wait_for(lock, kPoll, [&] { return !ch->tokens.empty() || ch->result.has_value(); });
      while (!ch->tokens.empty()) {
        std::string delta = std::move(ch->tokens.front());
        ch->tokens.pop_front();
        lock.unlock();
        on_token(delta);
        lock.lock();
      }
      if (ch->result.has_value()) return std::move(*ch->result);
      if (std::chrono::steady_clock::now() >= ctx.deadline()) {
        return deadline_exceeded("the turn did not finish before the call's deadline (it completes and is stored)");
      }
    }
  };

  host.unary<v1::TurnRequest, v1::TurnResponse>(
      "parley.v1.Dialog/Turn", [run_turn](const v1::TurnRequest& r, service::CallContext& ctx) {
        return run_turn(r, ctx, false, [](const std::string&) {});
      });
  host.server_stream<v1::TurnRequest, v1::TurnStreamEvent>(
      "parley.v1.Dialog/TurnStream",
      [run_turn](const v1::TurnRequest& r, service::StreamWriter<v1::TurnStreamEvent>& w,
                 service::CallContext& ctx) -> Status {
        // A client that went away stops being written to; its turn still completes and is stored.
        bool open = true;
        auto result = run_turn(r, ctx, true, [&](const std::string& delta) {
          if (!open) return;
          v1::TurnStreamEvent e;
          e.mutable_token()->set_text(delta);
          open = w.write(e);
        });
        if (!result.ok()) return result.status();
        v1::TurnStreamEvent last;
        *last.mutable_turn() = std::move(*result);
        if (open) (void)w.write(last);
        return Status::ok();
      });
}

}  // namespace parley::dialog
