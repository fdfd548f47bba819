// CDP client implementation: Beast WebSocket (synchronous), protobuf's JSON parser into
// google.protobuf.Struct, and the Chromium launcher. Depends on cdp.h.
#include "tests/integration/browser/cdp.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "shared/common/json.h"

namespace parley::testing {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string chromium_binary() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("PARLEY_CHROMIUM"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  }
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    candidates.emplace_back(p);
  }
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

std::string json_quote(const std::string& s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

Result<std::string> base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    if (v < 0) return invalid_argument("bad base64 character");
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

namespace {

Result<google::protobuf::Struct> parse_object(const std::string& json) {
  google::protobuf::Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(json, &s);
  if (!st.ok()) return invalid_argument("bad JSON from the browser: " + std::string(st.message()));
  return s;
}

std::string to_json(const google::protobuf::Value& v) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(v, &out);
  return out;
}

// GET on the DevTools HTTP endpoint. Beast, not tests/support's client: Chromium keeps the
// connection open despite "Connection: close", so the body must be read by Content-Length.
Result<std::string> devtools_get(int port, const std::string& target) {
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    beast::http::request<beast::http::empty_body> req(beast::http::verb::get, target, 11);
    req.set(beast::http::field::host, "127.0.0.1:" + std::to_string(port));
    beast::http::write(stream, req);
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> res;
    beast::http::read(stream, buffer, res);
    if (res.result_int() != 200) return unavailable("DevTools " + target + ": HTTP " + std::to_string(res.result_int()));
    return res.body();
  } catch (const std::exception& e) {
    return unavailable("DevTools " + target + ": " + e.what());
  }
}

}  // namespace

struct CdpSession::Impl {
  asio::io_context io;
  beast::websocket::stream<beast::tcp_stream> ws{io};
};

CdpSession::CdpSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CdpSession::~CdpSession() {
  beast::error_code ec;
  impl_->ws.close(beast::websocket::close_code::normal, ec);
}

Result<std::unique_ptr<CdpSession>> CdpSession::connect(const std::string& host, int port,
                                                        const std::string& path) {
  auto impl = std::make_unique<Impl>();
  try {
    tcp::resolver resolver(impl->io);
    auto results = resolver.resolve(host, std::to_string(port));
    beast::get_lowest_layer(impl->ws).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(impl->ws).connect(results);
    beast::get_lowest_layer(impl->ws).expires_never();
    impl->ws.read_message_max(64 << 20);  // screenshots are large
    impl->ws.handshake(host + ":" + std::to_string(port), path);
  } catch (const std::exception& e) {
    return unavailable("CDP connect to " + host + ":" + std::to_string(port) + path + ": " + e.what());
  }
  return std::unique_ptr<CdpSession>(new CdpSession(std::move(impl)));
}

Result<google::protobuf::Struct> CdpSession::call(const std::string& method,
                                                  const std::string& params_json,
                                                  std::chrono::milliseconds timeout) {
  const int id = next_id_++;
  const std::string msg = "{\"id\":" + std::to_string(id) + ",\"method\":" + json_quote(method) +
                          ",\"params\":" + params_json + "}";
  try {
    auto& layer = beast::get_lowest_layer(impl_->ws);
    layer.expires_after(timeout);
    impl_->ws.text(true);
    impl_->ws.write(asio::buffer(msg));
    while (true) {
      beast::flat_buffer buffer;
      layer.expires_after(timeout);
      impl_->ws.read(buffer);
      PARLEY_ASSIGN_OR_RETURN(auto reply, parse_object(beast::buffers_to_string(buffer.data())));
      const auto& f = reply.fields();
      auto id_it = f.find("id");
      if (id_it == f.end()) {
        auto m = f.find("method");
        auto p = f.find("params");
        events_.emplace_back(m == f.end() ? "" : m->second.string_value(),
                             p == f.end() ? "" : to_json(p->second));
        continue;
      }
      if (static_cast<int>(id_it->second.number_value()) != id) continue;
      layer.expires_never();
      if (auto err = f.find("error"); err != f.end()) {
        return internal_error("CDP " + method + " failed: " + to_json(err->second));
      }
      auto res = f.find("result");
      return res == f.end() ? google::protobuf::Struct{} : res->second.struct_value();
    }
  } catch (const std::exception& e) {
    return unavailable("CDP " + method + ": " + e.what());
  }
}

Result<std::string> CdpSession::evaluate(const std::string& expression) {
  PARLEY_ASSIGN_OR_RETURN(
      auto r, call("Runtime.evaluate", "{\"expression\":" + json_quote(expression) +
                                           ",\"returnByValue\":true,\"awaitPromise\":true}"));
  const auto& f = r.fields();
  if (auto ex = f.find("exceptionDetails"); ex != f.end()) {
    return internal_error("JS exception in `" + expression + "`: " + to_json(ex->second));
  }
  auto res = f.find("result");
  if (res == f.end()) return std::string("null");
  const auto& rf = res->second.struct_value().fields();
  auto v = rf.find("value");
  return v == rf.end() ? std::string("null") : to_json(v->second);
}

bool CdpSession::wait_for(const std::string& expression, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto v = evaluate("!!(" + expression + ")");
    if (v.ok() && *v == "true") return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<std::unique_ptr<HeadlessChromium>> HeadlessChromium::start(const std::string& work_dir,
                                                                  const std::vector<std::string>& extra_args) {
  const std::string bin = chromium_binary();
  if (bin.empty()) return not_found("no chromium binary");
  auto browser = std::unique_ptr<HeadlessChromium>(new HeadlessChromium());
  const std::string profile = work_dir + "/profile";
  std::vector<std::string> argv = {bin,
                                   "--headless=new",
                                   "--disable-gpu",
                                   "--remote-debugging-address=127.0.0.1",
                                   "--remote-debugging-port=0",
                                   "--user-data-dir=" + profile,
                                   "--window-size=1280,800",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--disable-sync",
                                   "--disable-dev-shm-usage",
                                   "--hide-scrollbars",
                                   "--mute-audio"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.push_back("about:blank");
  // Chromium refuses to run as root with its sandbox on (CI containers run as root).
  if (::geteuid() == 0) argv.insert(argv.begin() + 1, "--no-sandbox");
  browser->process_ = std::make_unique<ChildProcess>(argv, work_dir + "/chromium.log");
  // Chromium writes its DevTools port to <profile>/DevToolsActivePort (more robust than
  // scraping "DevTools listening on ws://..." from stderr).
  const bool up = wait_until(
      [&] {
        std::ifstream f(profile + "/DevToolsActivePort");
        int port = 0;
        if (f >> port && port > 0) {
          browser->devtools_port_ = port;
          return true;
        }
        return !browser->process_->running();
      },
      std::chrono::seconds(30));
  if (!up || browser->devtools_port_ == 0) {
    return unavailable("chromium did not open its DevTools port; log:\n" + browser->log());
  }
  return browser;
}

Result<std::unique_ptr<CdpSession>> HeadlessChromium::open_page() {
  // /json/list: the targets; the page's webSocketDebuggerUrl is ws://127.0.0.1:PORT/devtools/page/ID.
  std::string ws_path;
  const bool found = wait_until(
      [&] {
        auto reply = devtools_get(devtools_port_, "/json/list");
        if (!reply.ok()) return false;
        google::protobuf::ListValue list;
        if (!google::protobuf::util::JsonStringToMessage(*reply, &list).ok()) return false;
        for (const auto& t : list.values()) {
          const auto& f = t.struct_value().fields();
          auto type = f.find("type");
          auto url = f.find("webSocketDebuggerUrl");
          if (type != f.end() && type->second.string_value() == "page" && url != f.end()) {
            const std::string& u = url->second.string_value();
            auto slash = u.find('/', std::string("ws://").size());
            if (slash != std::string::npos) ws_path = u.substr(slash);
            return !ws_path.empty();
          }
        }
        return false;
      },
      std::chrono::seconds(15));
  if (!found) return unavailable("chromium has no page target; log:\n" + log());
  return CdpSession::connect("127.0.0.1", devtools_port_, ws_path);
}

}  // namespace parley::testing
