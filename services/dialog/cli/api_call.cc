// One blocking HTTP/1.1 call on Beast (see api_call.h). Depends on Boost.Beast.
#include "services/dialog/cli/api_call.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace parley::dialog {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

bool parse_api_url(const std::string& url, ApiTarget& out, std::string& error) {
  if (url.rfind("http://", 0) != 0) {
    error = "--url must start with http:// (got '" + url + "')";
    return false;
  }
  std::string hostport = url.substr(7);
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  out.host = hostport;
  out.port = "80";
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    out.host = hostport.substr(0, colon);
    out.port = hostport.substr(colon + 1);
  }
  return true;
}

bool api_call(const ApiTarget& api, const std::string& method, const std::string& target, const std::string& body,
              ApiReply& out, std::string& error, const std::string& content_type) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(api.host, api.port));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, api.host);
    req.set(bhttp::field::content_type, content_type);
    if (!api.key.empty()) req.set(bhttp::field::authorization, "Bearer " + api.key);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(stream, buffer, parser);
    out.status = static_cast<int>(parser.get().result_int());
    out.body = parser.get().body();
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

}  // namespace parley::dialog
