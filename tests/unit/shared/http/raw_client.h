// A raw-socket HTTP/1.1 client for server tests: exact bytes out, responses parsed incrementally
// (keep-alive, pipelining, chunked streams read chunk by chunk, malformed requests).
// Exists because a real client library would hide exactly what these tests check. POSIX sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace parley::http::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

/// One TCP connection to 127.0.0.1:port. Every read has a timeout so a broken server fails the
/// test instead of hanging it.
class RawConnection {
 public:
  /// `source`: the local address to connect from (e.g. "127.0.0.2", another loopback address:
  /// a second client address for per-address limits); "" = the kernel's choice.
  explicit RawConnection(std::uint16_t port, const std::string& source = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  /// A complete response (Content-Length, chunked, or until close). nullopt on timeout/close.
  /// `head_request`: the response has no body whatever its headers say.
  std::optional<RawResponse> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                           bool head_request = false);
  /// Status line and headers only (a stream's start).
  std::optional<RawResponse> read_head(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// One chunk of a chunked body: its data ("" for the last chunk); nullopt on timeout/close.
  std::optional<std::string> read_chunk(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// True when the server closes the connection within `timeout` (bytes received before are kept).
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Exactly n raw bytes.
  std::optional<std::string> read_exact(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Closes the socket (client-side disconnect).
  void close();

 private:
  // Reads more bytes into buf_; false on timeout, error or EOF (eof_ set).
  bool fill(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

/// "GET /path HTTP/1.1" with Host and, when given, a body with Content-Length.
std::string make_request(std::string_view method, std::string_view target, std::string_view body = "",
                         std::string_view extra_headers = "");

}  // namespace parley::http::testing
