// HTTP request and response values, headers, query/percent decoding and JSON error bodies.
// Exists so handlers (health, the public API) see plain C++ values and never Beast types, keeping
// Beast inside server.cc and out of every handler's compile. Depends on shared/common.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/common/status.h"

namespace parley::http {

enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

/// "GET", "POST", ... ("OTHER" for kOther).
std::string_view method_name(Method method);
/// Exact, case-sensitive token ("GET"); anything unknown is kOther.
Method parse_method(std::string_view token);

/// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  /// First value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  /// Appends a field (repeated fields stay separate).
  void add(std::string name, std::string value);
  /// Replaces every field called `name` by one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

/// One request as a handler sees it. Owned by the server for the handler call (sync) or moved
/// into the async handler.
struct Request {
  Method method = Method::kOther;
  std::string method_token;  ///< as sent ("GET", "PROPFIND")
  std::string target;        ///< raw request-target: "/v1/sessions/a%20b?x=1"
  std::string path;          ///< target before '?', still percent-encoded: "/v1/sessions/a%20b"
  std::multimap<std::string, std::string> query;           ///< decoded ('+' is a space)
  std::map<std::string, std::string> path_params;          ///< decoded: {"id", "a b"}
  Headers headers;
  std::string body;
  std::string remote_address;  ///< "127.0.0.1:54321"
  int version = 11;            ///< 10 or 11

  /// First value of query parameter `name`.
  std::optional<std::string> query_param(std::string_view name) const;
  /// Path parameter `name` ("" when the route has none by that name).
  std::string_view path_param(std::string_view name) const;
};

/// One response. Content-Length, Connection and Server are set by the server.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  Headers headers;
  std::string body;

  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  /// `body` must already be JSON.
  static Response json(int status, std::string body);
};

/// The `code` strings of transport-level errors the server itself sends.
inline constexpr std::string_view kBadRequest = "BAD_REQUEST";
inline constexpr std::string_view kNotFound = "NOT_FOUND";
inline constexpr std::string_view kMethodNotAllowed = "METHOD_NOT_ALLOWED";
inline constexpr std::string_view kPayloadTooLarge = "PAYLOAD_TOO_LARGE";
inline constexpr std::string_view kHeadersTooLarge = "HEADERS_TOO_LARGE";
inline constexpr std::string_view kInternal = "INTERNAL";
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";

/// `{"error":{"code":"NOT_FOUND","message":"..."}}` with Content-Type application/json.
/// `code_name` is a machine-readable upper-snake word (a StatusCode name or one of the above).
Response json_error(int status, std::string_view code_name, std::string_view message);
/// json_error with the HTTP status for `status.code()` and its status_code_name().
Response error_response(const Status& status);
/// The HTTP status for a gRPC-style code (INVALID_ARGUMENT -> 400, NOT_FOUND -> 404,
/// UNAVAILABLE -> 503, DEADLINE_EXCEEDED -> 504, ...; the grpc-gateway mapping).
int http_status_for(StatusCode code);

/// Appends `s` as a JSON string literal, quotes included (escapes ", \ and control characters).
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

/// Percent-decoding; with `plus_as_space` a '+' becomes ' ' (query strings). Fails
/// (nullopt) on a truncated or non-hex escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space);
/// Parses "a=1&b=x%20y&c" into {a:1, b:"x y", c:""}; nullopt on a bad escape.
std::optional<std::multimap<std::string, std::string>> parse_query(std::string_view query);

}  // namespace parley::http
