// The ZAP handler (see zap.h): a REP socket on inproc://zeromq.zap.01 per context, answering
// libzmq's authentication requests from the allowed-key sets of the registered domains.
// Depends on zap.h, curve.h (key validation), libzmq.
#include "shared/transport/zap.h"

#include <zmq.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "shared/common/log.h"
#include "shared/transport/curve.h"

namespace parley::transport {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
using Key = std::array<std::uint8_t, 32>;

struct DomainKeys {
  std::set<Key> allowed;
  std::shared_ptr<std::atomic<std::uint64_t>> refused = std::make_shared<std::atomic<std::uint64_t>>(0);
};

class Handler : public std::enable_shared_from_this<Handler> {
 public:
  explicit Handler(void* ctx) : ctx_(ctx) {}
  ~Handler() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  Status start() {
    std::mutex m;
    std::condition_variable cv;
    bool ready = false;
    Status result;
    thread_ = std::thread([&, this] {
      void* socket = zmq_socket(ctx_, ZMQ_REP);
      Status s;
      int linger = 0;
      if (socket == nullptr) {
        s = internal_error(std::string("ZAP: zmq_socket(REP): ") + zmq_strerror(errno));
      } else {
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof(linger));
        if (zmq_bind(socket, kZapEndpoint) != 0) {
          s = unavailable(std::string("ZAP: cannot bind ") + kZapEndpoint + ": " + zmq_strerror(errno) +
                          " (another ZAP handler in this context?)");
        }
      }
      {
        std::lock_guard lock(m);
        result = s;
        ready = true;
      }
      cv.notify_all();
      if (s.is_ok()) serve(socket);
      if (socket != nullptr) zmq_close(socket);
    });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return ready; });
    if (!result.is_ok()) {
      thread_.join();
    }
    return result;
  }

  std::shared_ptr<std::atomic<std::uint64_t>> add(const std::string& domain, std::set<Key> keys) {
    std::lock_guard lock(mu_);
    DomainKeys& d = domains_[domain];
    d.allowed = std::move(keys);
    return d.refused;
  }
  void remove(const std::string& domain) {
    std::lock_guard lock(mu_);
    domains_.erase(domain);
  }

 private:
  static bool recv_frame(void* socket, std::string& out, bool& more) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, 0) < 0) {
      zmq_msg_close(&msg);
      return false;
    }
    out.assign(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    more = zmq_msg_more(&msg) != 0;
    zmq_msg_close(&msg);
    return true;
  }

  void serve(void* socket) {
    while (!stop_.load()) {
      zmq_pollitem_t item{socket, 0, ZMQ_POLLIN, 0};
      int rc = zmq_poll(&item, 1, 100);
      if (rc <= 0 || (item.revents & ZMQ_POLLIN) == 0) continue;
      // Request: version, request id, domain, address, identity, mechanism, credentials...
      std::vector<std::string> frames;
      bool more = true;
      while (more) {
        std::string f;
        if (!recv_frame(socket, f, more)) break;
        if (frames.size() < 16) frames.push_back(std::move(f));
      }
      std::string code = "400", text = "malformed ZAP request";
      if (frames.size() >= 7 && frames[0] == "1.0") {
        const std::string& domain = frames[2];
        const std::string& mechanism = frames[5];
        std::lock_guard lock(mu_);
        auto it = domains_.find(domain);
        if (it == domains_.end()) {
          text = "unknown ZAP domain";
        } else if (mechanism != "CURVE" || frames[6].size() != 32) {
          text = "CURVE required";
          it->second.refused->fetch_add(1);
        } else {
          Key k{};
          std::memcpy(k.data(), frames[6].data(), 32);
          if (it->second.allowed.contains(k)) {
            code = "200";
            text = "OK";
          } else {
            text = "client key not allowed";
            it->second.refused->fetch_add(1);
            char z85[41] = {};
            zmq_z85_encode(z85, k.data(), 32);
            PARLEY_LOG_EVERY_MS(kWarn, 5000).kv("client_key", z85).kv("address", frames[3])
                << "transport: CURVE client refused (its public key is not an allowed client)";
          }
        }
      }
      const std::string request_id = frames.size() > 1 ? frames[1] : "";
      const std::string reply[6] = {"1.0", request_id, code, text, "", ""};
      for (int i = 0; i < 6; ++i) {
        zmq_send(socket, reply[i].data(), reply[i].size(), i < 5 ? ZMQ_SNDMORE : 0);
      }
    }
  }

  void* ctx_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, DomainKeys> domains_;  // guarded by mu_
};

std::mutex g_mu;
std::map<void*, std::weak_ptr<Handler>> g_handlers;  // guarded by g_mu
std::atomic<std::uint64_t> g_next_domain{1};

class Domain final : public ZapDomain {
 public:
  Domain(std::shared_ptr<Handler> handler, std::string name, std::shared_ptr<std::atomic<std::uint64_t>> refused)
      : handler_(std::move(handler)), name_(std::move(name)), refused_(std::move(refused)) {}
  ~Domain() override {
    handler_->remove(name_);
    std::lock_guard lock(g_mu);
    handler_.reset();  // the last domain of the context stops its handler (joined here)
  }
  const std::string& domain() const override { return name_; }
  std::uint64_t refused() const override { return refused_->load(); }

 private:
  std::shared_ptr<Handler> handler_;
  std::string name_;
  std::shared_ptr<std::atomic<std::uint64_t>> refused_;
};

}  // namespace

Result<std::shared_ptr<ZapDomain>> register_zap_domain(void* zmq_context,
                                                       const std::vector<std::string>& allowed_client_keys) {
  std::set<Key> keys;
  for (const auto& z : allowed_client_keys) {
    PARLEY_RETURN_IF_ERROR(validate_curve_key(z, "allowed CURVE client key"));
    Key k{};
    zmq_z85_decode(k.data(), z.c_str());
    keys.insert(k);
  }
  if (keys.empty()) return invalid_argument("CURVE: no allowed client keys");
  std::lock_guard lock(g_mu);
  std::shared_ptr<Handler> handler = g_handlers[zmq_context].lock();
  if (!handler) {
    handler = std::make_shared<Handler>(zmq_context);
    PARLEY_RETURN_IF_ERROR(handler->start());
    g_handlers[zmq_context] = handler;
  }
  const std::string name = "parley-" + std::to_string(g_next_domain.fetch_add(1));
  auto refused = handler->add(name, std::move(keys));
  return std::shared_ptr<ZapDomain>(std::make_shared<Domain>(std::move(handler), name, std::move(refused)));
}

}  // namespace parley::transport
