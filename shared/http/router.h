// Route table: (method, path) -> route id, with exact segments and `{name}` path parameters.
// Exists apart from the server so matching, 404/405 decisions and parameter decoding are tested
// without sockets. Depends on message.h.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/http/message.h"

namespace parley::http {

/// Patterns are absolute paths whose segments are literals, `{name}` (a whole segment) or
/// `{name}:verb` (a parameter then a literal custom-method suffix, as in Google's API style):
/// "/metrics", "/v1/sessions/{id}", "/v1/sessions/{id}/messages", "/v1/bots/{bot}:reload". A
/// segment that ends in a route's `:verb` belongs to that route's shape only: `{name}` routes at
/// that position neither match it nor appear in its Allow header. Matching is exact (no prefix
/// or trailing-slash tolerance); literal segments beat parameters, leftmost first, so
/// "/v1/bots/default" wins over "/v1/bots/{id}". A HEAD request falls back to the GET route.
///
/// Threading: add() before use; match() is const and safe from any number of threads.
class Router {
 public:
  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadPath };
    Kind kind = Kind::kNotFound;
    std::size_t id = 0;                         ///< kFound: the id given to add()
    std::map<std::string, std::string> params;  ///< kFound: decoded path parameters
    std::vector<Method> allowed;                ///< kMethodNotAllowed: methods of this path
  };

  /// kInvalidArgument for a malformed pattern (no leading '/', '{' not a whole segment, bad or
  /// repeated parameter name, method kOther); kAlreadyExists when `method` already has a route
  /// of the same shape ("/a/{x}" and "/a/{y}" are the same shape).
  Status add(Method method, std::string_view pattern, std::size_t id);

  /// `path` is the still-encoded path of the target (no query). kBadPath for a bad
  /// percent-escape or a path that does not start with '/'.
  Match match(Method method, std::string_view path) const;

  /// "GET, HEAD, POST" for an Allow header.
  static std::string allow_header(const std::vector<Method>& methods);

 private:
  struct Segment {
    bool param = false;
    std::string text;    // literal text, or the parameter name
    std::string suffix;  // param only: ":verb" that must end the segment ("" for a whole-segment param)
  };
  struct Route {
    Method method;
    std::vector<Segment> segments;
    std::size_t id;
  };

  std::vector<Route> routes_;
};

}  // namespace parley::http
