// Fuzz target: an HTTP/1.1 request as the public API's server reads it — Beast's request parser
// with the server's header and body limits, then what the server does with a parsed request
// (method, target split, percent-decoded query, headers, route match with {param}s against the
// dialog's routes, error bodies quoting the path). Exists because every byte of it comes from
// the Internet. Depends on Boost.Beast, shared/http (message, router).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/common/utf8.h"
#include "shared/http/message.h"
#include "shared/http/router.h"

namespace bhttp = boost::beast::http;
using namespace parley::http;

namespace {

const Router& dialog_routes() {
  static const Router* router = [] {
    auto* r = new Router();
    const char* patterns[] = {"/",          "/static/{file}",       "/v1/bots",          "/v1/bots/{bot}",
                              "/v1/bots/{bot}/sessions", "/v1/sessions/{id}", "/v1/sessions/{id}/turns",
                              "/v1/sessions/{id}/turns:stream", "/v1/sessions/{id}/voice", "/metrics", "/healthz"};
    std::size_t id = 0;
    for (const char* p : patterns) {
      for (Method m : {Method::kGet, Method::kPost, Method::kPut, Method::kDelete}) (void)r->add(m, p, id++);
    }
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 << 10);   // ServerOptions::max_header_bytes
  parser.body_limit(1 << 20);      // ServerOptions::max_body_bytes
  boost::beast::error_code ec;
  std::size_t used = 0;
  // Fed in two pieces, as a slow client would send it.
  const std::size_t half = size / 2;
  used += parser.put(boost::asio::buffer(data, half), ec);
  if (!ec || ec == bhttp::error::need_more) {
    ec = {};
    used += parser.put(boost::asio::buffer(data + used, size - used), ec);
  }
  if (ec == bhttp::error::need_more) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  const auto& raw = parser.get();
  Request req;
  req.method_token = std::string(raw.method_string());
  req.method = parse_method(req.method_token);
  req.target = std::string(raw.target());
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) {
    auto parsed = parse_query(std::string_view(req.target).substr(q + 1));
    if (!parsed) {
      (void)json_error(400, kBadRequest, "bad percent-escape in the query string");
      return 0;
    }
    req.query = std::move(*parsed);
  }
  for (const auto& f : raw) req.headers.add(std::string(f.name_string()), std::string(f.value()));
  req.body = raw.body();
  (void)req.headers.get("authorization");
  (void)req.query_param("access_token");
  Router::Match m = dialog_routes().match(req.method, req.path);
  if (m.kind == Router::Match::Kind::kFound) {
    req.path_params = std::move(m.params);
    for (const char* name : {"id", "bot", "file"}) {
      std::string_view v = req.path_param(name);
      std::string e = parley::excerpt(v);
      if (!parley::valid_utf8(e)) __builtin_trap();  // excerpts are always valid UTF-8
    }
  } else if (m.kind == Router::Match::Kind::kMethodNotAllowed) {
    (void)Router::allow_header(m.allowed);
  }
  Response err = json_error(404, kNotFound, "no route for " + parley::excerpt(req.path, 120));
  if (err.body.size() > 1024) __builtin_trap();  // errors quote a short excerpt only
  (void)percent_decode(req.path, false);
  return 0;
}
