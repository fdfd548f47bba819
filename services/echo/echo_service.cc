// Echo service logic.
#include "services/echo/echo_service.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace parley::echo {

Status EchoService::validate(const v1::EchoRequest& request) const {
  if (request.text().size() > limits_.max_text_bytes) {
    return invalid_argument("text is " + std::to_string(request.text().size()) + " bytes; the limit is " +
                            std::to_string(limits_.max_text_bytes));
  }
  if (request.delay_ms() < 0 || request.delay_ms() > limits_.max_delay_ms) {
    return invalid_argument("delay_ms must be within [0, " + std::to_string(limits_.max_delay_ms) + "], got " +
                            std::to_string(request.delay_ms()));
  }
  if (request.repeat() < 0 || request.repeat() > limits_.max_repeat) {
    return invalid_argument("repeat must be within [0, " + std::to_string(limits_.max_repeat) + "], got " +
                            std::to_string(request.repeat()));
  }
  return Status::ok();
}

bool EchoService::simulate_work(int delay_ms, const service::CallContext& ctx) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (ctx.cancelled()) return false;
    auto slice = std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(5),
                                                               end - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(slice);
  }
  return !ctx.cancelled();
}

Result<v1::EchoReply> EchoService::echo(const v1::EchoRequest& request, service::CallContext& ctx) const {
  PARLEY_RETURN_IF_ERROR(validate(request));
  auto start = std::chrono::steady_clock::now();
  if (!simulate_work(request.delay_ms(), ctx)) return cancelled("echo gave up: call cancelled or past deadline");
  ctx.add_timing("echo", std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start));
  if (request.fail()) return internal_error("echo was asked to fail");
  v1::EchoReply reply;
  reply.set_text(request.text());
  reply.set_replica(replica_);
  return reply;
}

Status EchoService::stream(const v1::EchoRequest& request, service::StreamWriter<v1::EchoReply>& out,
                           service::CallContext& ctx) const {
  PARLEY_RETURN_IF_ERROR(validate(request));
  for (int i = 0; i < request.repeat(); ++i) {
    if (!simulate_work(request.delay_ms(), ctx)) return cancelled("stream gave up: call cancelled or past deadline");
    v1::EchoReply reply;
    reply.set_text(request.text());
    reply.set_index(i);
    reply.set_replica(replica_);
    if (!out.write(reply)) return cancelled("client went away");
  }
  if (request.fail()) return internal_error("echo was asked to fail");
  return Status::ok();
}

}  // namespace parley::echo
