// Loopback networking helpers for tests: a free TCP port and a minimal blocking HTTP/1.1 client.
// Exists so integration tests can probe /metrics, /healthz and /readyz of real processes without
// pulling an HTTP library into every test. Depends on shared/common.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "shared/common/status.h"

namespace parley::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read back, close).
int free_tcp_port();

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

/// One request on a fresh connection ("Connection: close"); body may be empty.
Result<HttpReply> http_request(const std::string& method, int port, const std::string& target,
                               const std::string& body = "",
                               std::chrono::milliseconds timeout = std::chrono::seconds(5),
                               const std::map<std::string, std::string>& headers = {});
inline Result<HttpReply> http_get(int port, const std::string& target) {
  return http_request("GET", port, target);
}

/// A raw TCP connection to 127.0.0.1:port: exact bytes out, bytes in until a marker, and a hang-up
/// in the middle of a response (client disconnects, idle sockets).
class RawSocket {
 public:
  explicit RawSocket(int port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  /// Reads until `needle` has been received (true), or the timeout or EOF (false).
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout);
  void close();
  const std::string& data() const { return data_; }

 private:
  int fd_ = -1;
  std::string data_;
};

/// An HTTP/1.1 POST request's bytes (Content-Type application/json) with `extra_headers`
/// ("Name: value\r\n" lines).
std::string http_post_bytes(const std::string& target, const std::string& body, const std::string& extra_headers = "");

/// Value of a sample in Prometheus text (exact series match, e.g.
/// `parley_requests_total{code="OK",method="parley.v1.Echo/Echo",service="echo"}`); summed over
/// all series of `name` when `labels_substring` is empty, else over series whose label block
/// contains it. NaN when absent.
double metric_value(const std::string& exposition, const std::string& name,
                    const std::string& labels_substring = "");

}  // namespace parley::testing
