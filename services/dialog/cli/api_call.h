// One blocking HTTP/1.1 call to the public dialog API, shared by the commands that talk to a
// running parley-dialog (`parley chat`, `parley bot test`). Depends on Boost.Beast (in the .cc).
#pragma once

#include <string>

namespace parley::dialog {

/// Where the API is: "http://host:port" split once.
struct ApiTarget {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string key;  ///< API key ("" = none)
};

/// "http://127.0.0.1:8080[/...]" -> host and port; false (with `error`) for another scheme.
bool parse_api_url(const std::string& url, ApiTarget& out, std::string& error);

struct ApiReply {
  int status = 0;
  std::string body;
};

/// `method` ("GET", "POST", ...) `target` with `body` (Content-Type `content_type`); false with
/// `error` when the server cannot be reached (an HTTP error status is a reply, not a failure).
/// Blocks; thread-safe (nothing shared).
bool api_call(const ApiTarget& api, const std::string& method, const std::string& target, const std::string& body,
              ApiReply& out, std::string& error, const std::string& content_type = "application/json");

}  // namespace parley::dialog
