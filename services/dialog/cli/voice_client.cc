// The voice WebSocket client (see voice_client.h): one I/O thread, async reads into a queue,
// writes posted to it in order. Depends on voice_client.h, Boost.Beast websocket, protobuf JSON.
#include "services/dialog/cli/voice_client.h"

#include <google/protobuf/util/json_util.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace parley::dialog {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::string json_escape(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

StatusCode code_for_http(int status) {
  switch (status) {
    case 400: return StatusCode::kInvalidArgument;
    case 401: return StatusCode::kUnauthenticated;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 429: return StatusCode::kResourceExhausted;
    case 503: return StatusCode::kUnavailable;
    default: return StatusCode::kUnknown;
  }
}

}  // namespace

struct VoiceClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  beast::flat_buffer in;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> inbox;     // guarded by mu
  bool closed = false;           // guarded by mu
  bool timed_out = false;        // guarded by mu
  std::uint16_t code = 0;        // guarded by mu
  std::string reason;            // guarded by mu

  // I/O thread only.
  std::deque<std::pair<std::string, bool>> out;
  bool writing = false;
  bool paused = false;
  bool reading = false;

  void read() {
    if (paused || reading) return;
    reading = true;
    ws.async_read(in, [this](beast::error_code ec, std::size_t) { on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading = false;
    if (ec) {
      std::lock_guard lock(mu);
      closed = true;
      if (ec == websocket::error::closed) {
        code = static_cast<std::uint16_t>(ws.reason().code);
        reason = std::string(ws.reason().reason.c_str());
      } else if (code == 0) {
        code = 1006;
        reason = ec.message();
      }
      cv.notify_all();
      return;
    }
    Message m;
    m.at = std::chrono::steady_clock::now();
    m.audio = ws.got_binary();
    m.data = beast::buffers_to_string(in.data());
    in.consume(in.size());
    if (!m.audio) {
      google::protobuf::util::JsonParseOptions o;
      o.ignore_unknown_fields = true;  // a newer server may send more
      (void)google::protobuf::util::JsonStringToMessage(m.data, &m.event, o);
    }
    {
      std::lock_guard lock(mu);
      inbox.push_back(std::move(m));
      cv.notify_all();
    }
    read();
  }

  void write(std::string data, bool binary) {
    asio::post(ioc, [this, d = std::move(data), binary]() mutable {
      out.emplace_back(std::move(d), binary);
      pump();
    });
  }

  void pump() {
    if (writing || out.empty()) return;
    writing = true;
    ws.binary(out.front().second);
    ws.async_write(asio::buffer(out.front().first), [this](beast::error_code ec, std::size_t) {
      writing = false;
      out.pop_front();
      if (ec) {
        out.clear();
        return;
      }
      pump();
    });
  }
};

VoiceClient::VoiceClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

VoiceClient::~VoiceClient() {
  asio::post(impl_->ioc, [im = impl_.get()] {
    beast::error_code ec;
    beast::get_lowest_layer(im->ws).socket().close(ec);
  });
  impl_->work.reset();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<VoiceClient>> VoiceClient::connect(const VoiceClientOptions& o) {
  auto im = std::make_unique<Impl>();
  std::string target = "/v1/sessions/" + o.session_id + "/voice?sample_rate=" + std::to_string(o.sample_rate);
  if (o.output_sample_rate > 0) target += "&output_sample_rate=" + std::to_string(o.output_sample_rate);
  if (o.text_only) target += "&text_only=true";
  if (!o.key.empty() && o.key_in_query) target += "&access_token=" + o.key;
  if (!o.extra_query.empty()) target += "&" + o.extra_query;
  try {
    tcp::resolver resolver(im->ioc);
    beast::error_code ec;
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec) return unavailable("cannot resolve " + o.host + ": " + ec.message());
    auto& layer = beast::get_lowest_layer(im->ws);
    layer.socket().open(tcp::v4(), ec);
    if (!ec && o.receive_buffer_bytes > 0) {
      layer.socket().set_option(asio::socket_base::receive_buffer_size(o.receive_buffer_bytes), ec);
    }
    beast::error_code result = asio::error::timed_out;
    layer.expires_after(o.connect_timeout);
    layer.async_connect(*results.begin(), [&](beast::error_code e) { result = e; });
    im->ioc.run();
    im->ioc.restart();
    if (result) return unavailable("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " + result.message());
    im->ws.set_option(websocket::stream_base::decorator([key = o.key, in_header = !o.key.empty() && !o.key_in_query](
                                                            websocket::request_type& req) {
      req.set(bhttp::field::user_agent, "parley-voice-client");
      if (in_header) req.set(bhttp::field::authorization, "Bearer " + key);
    }));
    websocket::response_type res;
    result = asio::error::timed_out;
    im->ws.async_handshake(res, o.host + ":" + std::to_string(o.port), target, [&](beast::error_code e) { result = e; });
    im->ioc.run();
    im->ioc.restart();
    if (result == websocket::error::upgrade_declined) {
      const int status = static_cast<int>(res.result_int());
      return Status(code_for_http(status), "HTTP " + std::to_string(status) + ": " + res.body());
    }
    if (result) return unavailable("WebSocket handshake failed: " + result.message());
    layer.expires_never();
    im->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  } catch (const std::exception& e) {
    return unavailable(std::string("voice connection: ") + e.what());
  }
  Impl* raw = im.get();
  raw->work.emplace(raw->ioc.get_executor());
  asio::post(raw->ioc, [raw] { raw->read(); });
  raw->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<VoiceClient>(new VoiceClient(std::move(im)));
}

Status VoiceClient::send_raw(std::string_view data, bool binary) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->closed) return unavailable("the voice connection is closed (" + std::to_string(impl_->code) + ")");
  }
  impl_->write(std::string(data), binary);
  return Status::ok();
}

Status VoiceClient::send_audio(std::string_view pcm16) { return send_raw(pcm16, true); }
Status VoiceClient::send_text(std::string_view text) {
  return send_raw("{\"type\":\"text\",\"text\":" + json_escape(text) + "}", false);
}
Status VoiceClient::send_interrupt() { return send_raw("{\"type\":\"interrupt\"}", false); }
Status VoiceClient::send_end() { return send_raw("{\"type\":\"end\"}", false); }

std::optional<VoiceClient::Message> VoiceClient::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->timed_out = false;
  if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->inbox.empty() || impl_->closed; })) {
    impl_->timed_out = true;
    return std::nullopt;
  }
  if (impl_->inbox.empty()) return std::nullopt;
  Message m = std::move(impl_->inbox.front());
  impl_->inbox.pop_front();
  return m;
}

bool VoiceClient::timed_out() const {
  std::lock_guard lock(impl_->mu);
  return impl_->timed_out;
}

std::uint16_t VoiceClient::close_code() const {
  std::lock_guard lock(impl_->mu);
  return impl_->code;
}

std::string VoiceClient::close_reason() const {
  std::lock_guard lock(impl_->mu);
  return impl_->reason;
}

void VoiceClient::pause_reading(bool paused) {
  asio::post(impl_->ioc, [im = impl_.get(), paused] {
    im->paused = paused;
    if (!paused) im->read();
  });
}

void VoiceClient::close() {
  asio::post(impl_->ioc, [im = impl_.get()] {
    im->ws.async_close(websocket::close_code::normal, [im](beast::error_code) {
      // The read loop sees the server's answering close frame.
    });
  });
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, std::chrono::seconds(2), [&] { return impl_->closed; });
}

void VoiceClient::drop() {
  asio::post(impl_->ioc, [im = impl_.get()] {
    beast::error_code ec;
    beast::get_lowest_layer(im->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(im->ws).socket().close(ec);
  });
}

}  // namespace parley::dialog
