// Service processes for integration tests (see service.h).
#include "tests/support/service.h"

#include "tests/support/net.h"
#include "shared/common/model_paths.h"

namespace parley::testing {

bool start_service(ServiceProcess& s, const std::string& binary, const std::vector<std::string>& extra,
                   const std::string& log_dir, std::string* log, std::chrono::milliseconds ready_within) {
  s.port = free_tcp_port();
  s.http_port = free_tcp_port();
  std::vector<std::string> argv = {built_binary(binary), "--transport.bind=" + s.endpoint(),
                                   "--http.port=" + std::to_string(s.http_port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const std::string name = binary.substr(binary.find_last_of('/') + 1);
  s.process = std::make_unique<ChildProcess>(argv, log_dir + "/" + name + "-" + std::to_string(s.port) + ".log");
  bool ready = wait_until(
      [&] {
        if (!s.process->running()) return true;  // exited: stop waiting
        auto r = http_get(s.http_port, "/readyz");
        return r.ok() && r->status == 200;
      },
      ready_within);
  if (!ready || !s.process->running()) {
    if (log != nullptr) *log = s.process->log();
    return false;
  }
  s.client = make_client(s.endpoint());
  return s.client != nullptr;
}

std::unique_ptr<transport::Client> make_client(const std::string& endpoint, std::chrono::milliseconds wait_for_replica) {
  transport::ClientOptions o;
  o.targets = {endpoint};
  o.max_wait_for_replica = wait_for_replica;
  auto c = transport::Client::create(o);
  return c.ok() ? std::move(*c) : nullptr;
}

Result<v1::Envelope> call_envelope(transport::Client& c, const std::string& method,
                                   const google::protobuf::Message& request, std::chrono::milliseconds timeout) {
  v1::Envelope env;
  env.set_method(method);
  env.mutable_payload()->PackFrom(request);
  transport::CallOptions o;
  o.timeout = timeout;
  return c.call_sync(env, o);
}

std::string model_dir() { return model_root(); }

}  // namespace parley::testing
