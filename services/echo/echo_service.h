// The echo service's own logic: the smallest real Parley service and the template for new ones.
// Exists to exercise the whole core (transport, host, metrics, drain) with controllable behaviour:
// simulated work (delay), failures and streamed replies. Depends on shared/service, proto.
#pragma once

#include <cstddef>
#include <string>

#include "parley/v1/echo.pb.h"
#include "shared/service/method.h"

namespace parley::echo {

/// Explicit limits: requests beyond them get INVALID_ARGUMENT naming the limit.
struct EchoLimits {
  std::size_t max_text_bytes = 64 * 1024;
  int max_delay_ms = 60'000;
  int max_repeat = 1000;
};

/// Stateless; safe to call from several worker threads at once.
class EchoService {
 public:
  EchoService(std::string replica, EchoLimits limits) : replica_(std::move(replica)), limits_(limits) {}

  /// parley.v1.Echo/Echo: replies with the text after `delay_ms` of simulated work.
  Result<v1::EchoReply> echo(const v1::EchoRequest& request, service::CallContext& ctx) const;
  /// parley.v1.Echo/Stream: `repeat` replies, each after `delay_ms`.
  Status stream(const v1::EchoRequest& request, service::StreamWriter<v1::EchoReply>& out,
                service::CallContext& ctx) const;

 private:
  Status validate(const v1::EchoRequest& request) const;
  /// Sleeps in slices, giving up as soon as the call is cancelled or past its deadline.
  static bool simulate_work(int delay_ms, const service::CallContext& ctx);

  std::string replica_;
  EchoLimits limits_;
};

}  // namespace parley::echo
