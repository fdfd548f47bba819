// parley-echo: the echo service process (the template for every Parley service's main).
#include "services/echo/echo_service.h"
#include "shared/config/base_schema.h"
#include "shared/service/host.h"

int main(int argc, char** argv) {
  using namespace parley;
  config::Schema schema = config::service_base_schema("parley-echo", "Echo service: the template Parley service");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7101"));
  schema.set_default("http.port", 9101);
  schema.add_int("echo.max_text_bytes", 64 * 1024, "Longest text accepted", config::int_range(0, 64 << 20));
  auto host = service::Host::create("echo", schema, argc, argv);
  echo::EchoService svc(host->config().get_string("transport.bind"),
                        {.max_text_bytes = static_cast<std::size_t>(host->config().get_int("echo.max_text_bytes"))});
  host->unary<v1::EchoRequest, v1::EchoReply>(
      "parley.v1.Echo/Echo", [&svc](const v1::EchoRequest& r, service::CallContext& c) { return svc.echo(r, c); });
  host->server_stream<v1::EchoRequest, v1::EchoReply>(
      "parley.v1.Echo/Stream",
      [&svc](const v1::EchoRequest& r, service::StreamWriter<v1::EchoReply>& w, service::CallContext& c) {
        return svc.stream(r, w, c);
      });
  return host->run();
}
