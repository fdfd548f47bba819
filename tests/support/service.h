// A Parley service binary as a child process on free loopback ports, with a transport client,
// and a one-line unary call. Why: every integration test of a service needs the same start /
// wait-for-/readyz / connect / call-and-unpack steps. Depends on process.h, net.h, shared/transport.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "parley/v1/envelope.pb.h"
#include "shared/common/status.h"
#include "shared/transport/client.h"
#include "tests/support/process.h"

namespace parley::testing {

struct ServiceProcess {
  int port = 0;       ///< ZeroMQ transport
  int http_port = 0;  ///< /metrics, /healthz, /readyz
  std::unique_ptr<ChildProcess> process;
  std::unique_ptr<transport::Client> client;
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port); }
};

/// Starts `binary` (relative to the build tree, e.g. "services/qa/parley-qa") with
/// --transport.bind and --http.port on free ports plus `extra`, logging to log_dir; waits for
/// /readyz 200 and connects a client. False (with the log in *log when given) when the process
/// exits or is not ready within `ready_within`.
bool start_service(ServiceProcess& s, const std::string& binary, const std::vector<std::string>& extra,
                   const std::string& log_dir, std::string* log = nullptr,
                   std::chrono::milliseconds ready_within = std::chrono::seconds(30));

/// A client for one endpoint (waits up to `wait_for_replica` for it to answer pings).
std::unique_ptr<transport::Client> make_client(const std::string& endpoint,
                                               std::chrono::milliseconds wait_for_replica = std::chrono::seconds(2));

/// Sends `request` as `method` and unpacks the reply; the call's error, or INTERNAL when the
/// payload is not a Reply.
Result<v1::Envelope> call_envelope(transport::Client& c, const std::string& method,
                                   const google::protobuf::Message& request, std::chrono::milliseconds timeout);
template <typename Reply>
Result<Reply> call_unary(transport::Client& c, const std::string& method, const google::protobuf::Message& request,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  PARLEY_ASSIGN_OR_RETURN(v1::Envelope reply, call_envelope(c, method, request, timeout));
  Reply out;
  if (!reply.payload().UnpackTo(&out)) return internal_error("reply is not a " + out.GetDescriptor()->full_name());
  return out;
}

/// parley::model_root(): where tools/models/fetch puts the models.
std::string model_dir();

}  // namespace parley::testing
