// Service host implementation: wires config, metrics/health HTTP, the ZeroMQ server and the
// worker pool together, and maps every outcome to a reply status and a metric.
#include "shared/service/host.h"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

#include "shared/actor/actor_system.h"
#include "shared/common/log.h"
#include "shared/http/health.h"
#include "shared/http/server.h"
#include "shared/metrics/process_metrics.h"
#include "shared/metrics/registry.h"
#include "shared/metrics/standard_metrics.h"
#include "shared/service/curve_config.h"
#include "shared/transport/server.h"

namespace parley::service {
namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  std::function<void()> run;
};
using WorkerMsg = std::variant<Job>;

/// One worker of the pool: runs jobs one at a time (the pool gives parallelism).
class Worker final : public actor::Actor<WorkerMsg> {
 public:
  void receive(WorkerMsg& msg) override {
    actor::match(msg, [](Job& job) { job.run(); });
  }
};

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal.store(sig); }

// Client-stream envelopes a bidirectional call may queue before its handler reads them; beyond
// this the call fails RESOURCE_EXHAUSTED (the I/O thread never blocks, the queue never grows).
constexpr std::size_t kMaxStreamBuffer = 256;

// The incoming side of a bidirectional call: the transport's I/O thread pushes STREAM_DATA
// envelopes and cancellation, the handler's worker thread pops them.
struct StreamInbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<v1::Envelope> queue;
  bool closed = false;      // end_of_stream seen
  Status failed;            // cancellation or overflow
};

class CallAdapter final : public RawCall {
 public:
  /// `method`: the registered name the call was routed to (the host's, outlives the adapter).
  CallAdapter(std::shared_ptr<transport::ServerCall> call, const std::string& method)
      : call_(std::move(call)), method_(method) {}
  ~CallAdapter() override {
    if (inbox_) {
      // The handler is done: later envelopes have nowhere to go.
      call_->on_stream_data([](v1::Envelope) {});
      call_->on_cancel([](const Status&) {});
    }
  }
  Result<std::optional<v1::Envelope>> next_request(Clock::time_point until) override {
    if (!inbox_) {
      // First read: the REQUEST itself; start listening for the client's stream.
      inbox_ = std::make_shared<StreamInbox>();
      std::weak_ptr<StreamInbox> weak = inbox_;
      call_->on_stream_data([weak](v1::Envelope env) {
        auto in = weak.lock();
        if (!in) return;
        {
          std::lock_guard lock(in->mu);
          if (in->closed || !in->failed.is_ok()) return;
          if (env.end_of_stream()) in->closed = true;
          if (in->queue.size() >= kMaxStreamBuffer) {
            in->failed = resource_exhausted("client sent more than " + std::to_string(kMaxStreamBuffer) +
                                            " stream messages ahead of the service");
          } else {
            in->queue.push_back(std::move(env));
          }
        }
        in->cv.notify_all();
      });
      call_->on_cancel([weak](const Status& why) {
        auto in = weak.lock();
        if (!in) return;
        {
          std::lock_guard lock(in->mu);
          if (in->failed.is_ok()) in->failed = why.is_ok() ? ::parley::cancelled("call cancelled") : why;
        }
        in->cv.notify_all();
      });
      if (!call_->client_streaming()) inbox_->closed = true;
      return std::optional<v1::Envelope>(call_->request());
    }
    StreamInbox& in = *inbox_;
    std::unique_lock lock(in.mu);
    const Clock::time_point end = std::min(until, call_->deadline());
    while (true) {
      if (!in.queue.empty()) {
        v1::Envelope env = std::move(in.queue.front());
        in.queue.pop_front();
        return std::optional<v1::Envelope>(std::move(env));
      }
      if (!in.failed.is_ok()) return in.failed;
      if (in.closed) return std::optional<v1::Envelope>();
      if (call_->cancelled()) return ::parley::cancelled("call cancelled");
      // Wake at least every 100 ms to notice cancellation the transport reports only by state.
      const Clock::time_point wake = std::min(end, Clock::now() + std::chrono::milliseconds(100));
      in.cv.wait_until(lock, wake);
      if (Clock::now() >= end && in.queue.empty() && in.failed.is_ok() && !in.closed) {
        return deadline_exceeded(end == call_->deadline() ? "call deadline passed while waiting for stream data"
                                                           : "no stream data in time");
      }
    }
  }
  const std::string& method() const override { return method_; }
  const std::string& session_id() const override { return call_->request().session_id(); }
  const std::string& trace_id() const override { return call_->request().trace_id(); }
  Clock::time_point deadline() const override { return call_->deadline(); }
  bool cancelled() const override { return call_->cancelled() || Clock::now() >= call_->deadline(); }
  void add_timing(std::string stage, std::chrono::microseconds d) override {
    auto* t = final_.add_timings();
    t->set_stage(std::move(stage));
    t->set_duration_us(d.count());
  }
  bool send_payload(const google::protobuf::Message& reply) override { return call_->send_payload(reply); }
  void set_final_payload(const google::protobuf::Message& reply) override { final_.mutable_payload()->PackFrom(reply); }
  v1::Envelope& final_envelope() { return final_; }

 private:
  std::shared_ptr<transport::ServerCall> call_;
  const std::string& method_;
  v1::Envelope final_;
  std::shared_ptr<StreamInbox> inbox_;  // bidirectional calls, after the first next_request()
};

// A stream call's transport side (Host::stream): replies, the ending (once, counted), the hooks.
class StreamAdapter final : public RawStream {
 public:
  using Record = std::function<void(const std::string& method, StatusCode code)>;
  StreamAdapter(std::shared_ptr<transport::ServerCall> call, Record record)
      : call_(std::move(call)), method_(call_->method()), record_(std::move(record)) {}
  // Every path finishes the call first (the call's actor does in on_stop); this only keeps a
  // call from staying open if one did not. The host may be gone by now: nothing is recorded.
  ~StreamAdapter() override {
    if (!done_.exchange(true)) call_->finish(unavailable("stream call dropped"));
  }

  bool send_payload(const google::protobuf::Message& reply) override {
    if (done_.load()) return false;
    return call_->send_payload(reply);  // serialized once, straight into the reply's bytes
  }
  void finish(const Status& status) override { end(status, true); }
  void abort(const Status& why) override { end(why, false); }
  bool ended_by_service() const override { return by_service_.load(); }

  void end(const Status& status, bool by_service) {
    std::function<void()> hook;
    v1::Envelope last;
    {
      std::lock_guard lock(mu_);
      if (done_.exchange(true)) return;
      by_service_.store(by_service);
      last = std::move(final_);
      hook = std::move(on_finish_);
      on_finish_ = nullptr;
      // The transport calls no callback after its call is over; drop ours so nothing they hold
      // (the call's actor) outlives the call through them.
      call_->on_stream_data([](v1::Envelope) {});
      call_->on_cancel([](const Status&) {});
    }
    Status sent = status;
    if (call_->cancelled()) {
      sent = Clock::now() >= call_->deadline() ? deadline_exceeded("deadline passed during the stream") : call_->cancel_status();
      if (sent.is_ok()) sent = ::parley::cancelled("client cancelled the call");
    }
    if (status.is_ok() && !call_->cancelled()) {
      call_->finish(std::move(last));
    } else {
      call_->finish(status.is_ok() ? sent : status);
    }
    {
      std::lock_guard lock(mu_);
      end_ = status.is_ok() ? sent : status;
    }
    record_(method_, (status.is_ok() ? sent : status).code());
    if (hook) hook();
  }
  bool finished() const override { return done_.load(); }
  Status end_status() const override {
    std::lock_guard lock(mu_);
    return end_;
  }
  const v1::Envelope& request_envelope() const override { return call_->request(); }
  void listen(std::function<void(v1::Envelope)> on_envelope, std::function<void(const Status&)> on_cancel,
              std::function<void()> on_finish) override {
    {
      std::lock_guard lock(mu_);
      if (done_.load()) {
        if (on_finish) on_finish();
        return;
      }
      on_finish_ = std::move(on_finish);
    }
    call_->on_cancel(std::move(on_cancel));
    if (call_->client_streaming()) call_->on_stream_data(std::move(on_envelope));
  }

  const std::string& method() const override { return method_; }
  const std::string& session_id() const override { return call_->request().session_id(); }
  const std::string& trace_id() const override { return call_->request().trace_id(); }
  Clock::time_point deadline() const override { return call_->deadline(); }
  bool cancelled() const override { return done_.load() || call_->cancelled() || Clock::now() >= call_->deadline(); }
  void add_timing(std::string stage, std::chrono::microseconds d) override {
    std::lock_guard lock(mu_);
    auto* t = final_.add_timings();
    t->set_stage(std::move(stage));
    t->set_duration_us(d.count());
  }

 private:
  std::shared_ptr<transport::ServerCall> call_;
  const std::string method_;  // a copy: the stream may outlive the host's tables
  Record record_;
  mutable std::mutex mu_;
  std::atomic<bool> done_{false};
  std::atomic<bool> by_service_{false};
  Status end_;                       // guarded by mu_
  std::function<void()> on_finish_;  // guarded by mu_
  v1::Envelope final_;               // guarded by mu_ (timings)
};

}  // namespace

struct Host::Impl {
  explicit Impl(const std::string& name) : standard(registry), svc(standard, name) {}

  metrics::Registry registry;
  metrics::StandardMetrics standard;
  metrics::ServiceMetrics svc;
  // std::less<>: looked up with the call's view of its method, no string made per call.
  std::map<std::string, RawHandler, std::less<>> methods;
  std::map<std::string, RawStreamStart, std::less<>> streams;
  std::vector<std::string> extra_endpoints;
  std::vector<std::function<void(std::chrono::steady_clock::time_point)>> drain_hooks;
  std::optional<std::chrono::milliseconds> default_deadline;
  std::unique_ptr<actor::ActorSystem> system;
  std::optional<actor::ActorPool<WorkerMsg>> pool;
  std::unique_ptr<http::Server> http;
  std::unique_ptr<transport::Server> server;
  std::atomic<int> in_flight{0};
  std::atomic<int> queued{0};
  std::atomic<bool> draining{false};
  std::mutex ready_mu;
  bool ready = true;
  std::string ready_reason;
  int capacity = 0;

  void dispatch(const std::shared_ptr<transport::ServerCall>& call);
  /// `method` is the registered entry the call was routed to.
  void execute(const std::shared_ptr<transport::ServerCall>& call, const std::pair<const std::string, RawHandler>& method,
               Clock::time_point enqueued);
  void record(const std::string& method, StatusCode code, Clock::time_point start) {
    svc.requests(method, status_code_name(code)).inc();
    svc.request_duration(method).observe_since(start);
  }
};

void Host::Impl::dispatch(const std::shared_ptr<transport::ServerCall>& call) {
  if (auto st = streams.find(call->method()); st != streams.end()) {
    // A stream holds no worker: its actor runs on the pool only when something arrives. It is a
    // request in flight until it ends.
    in_flight.fetch_add(1);
    const auto start = Clock::now();
    auto raw = std::make_shared<StreamAdapter>(call, [this, start](const std::string& method, StatusCode code) {
      in_flight.fetch_sub(1);
      record(method, code, start);
    });
    st->second(raw);
    return;
  }
  auto it = methods.find(call->method());
  if (it == methods.end()) {
    // Unknown methods are counted under a fixed label so hostile input cannot explode series.
    svc.requests("unknown", "UNIMPLEMENTED").inc();
    call->finish(unimplemented("no method '" + std::string(call->method()) + "' on this service"));
    return;
  }
  const auto* entry = &*it;
  auto enqueued = Clock::now();
  queued.fetch_add(1);
  Status told = pool->tell(Job{[this, call, entry, enqueued] { execute(call, *entry, enqueued); }});
  if (!told.is_ok()) {
    queued.fetch_sub(1);
    svc.mailbox_rejected.inc();
    record(entry->first, told.code(), enqueued);
    call->finish(Status(told.code(), "service busy: " + told.message()));
  }
}

void Host::Impl::execute(const std::shared_ptr<transport::ServerCall>& call,
                         const std::pair<const std::string, RawHandler>& entry, Clock::time_point enqueued) {
  queued.fetch_sub(1);
  const std::string& method = entry.first;
  const RawHandler& handler = entry.second;
  svc.queue_duration(method).observe_since(enqueued);
  if (call->cancelled() || Clock::now() >= call->deadline()) {
    // Work past its deadline is dropped; the transport has answered DEADLINE_EXCEEDED already.
    record(method, StatusCode::kDeadlineExceeded, enqueued);
    call->finish(deadline_exceeded("deadline passed while queued"));
    return;
  }
  in_flight.fetch_add(1);
  CallAdapter adapter(call, method);
  Status status;
  try {
    status = handler(call->request(), adapter);
  } catch (const std::exception& e) {
    PARLEY_BUG() << "handler for " << method << " threw: " << e.what();
    status = internal_error(std::string("handler threw: ") + e.what());
  }
  in_flight.fetch_sub(1);
  if (call->cancelled()) {
    // The reply is dropped either way; the metric says why the work was wasted.
    status = Clock::now() >= call->deadline() ? deadline_exceeded("deadline passed during work")
                                              : cancelled("client cancelled the call");
  }
  record(method, status.code(), enqueued);
  if (status.is_ok()) {
    call->finish(std::move(adapter.final_envelope()));
  } else {
    call->finish(status);
  }
}

Host::Host(std::string name, config::Config config) : config_(std::move(config)), name_(std::move(name)) {
  impl_ = std::make_unique<Impl>(name_);
}

Host::~Host() { stop(); }

std::unique_ptr<Host> Host::create(std::string name, const config::Schema& schema, int argc,
                                   const char* const* argv) {
  config::Config cfg = config::load_or_exit(schema, argc, argv);
  log::Level level = log::Level::kInfo;
  log::parse_level(cfg.get_string("log.level"), &level);
  log::set_level(level);
  log::set_json(cfg.get_bool("log.json"));
  auto host = std::unique_ptr<Host>(new Host(std::move(name), std::move(cfg)));
  log::set_component(host->name_);
  return host;
}

metrics::Registry& Host::metrics() { return impl_->registry; }

void Host::add_method(const std::string& method, RawHandler handler) {
  PARLEY_CHECK(!impl_->server) << "register methods before start()";
  impl_->methods[method] = std::move(handler);
}

void Host::add_stream_method(const std::string& method, RawStreamStart start) {
  PARLEY_CHECK(!impl_->server) << "register methods before start()";
  impl_->streams[method] = std::move(start);
}

void Host::add_endpoint(std::string endpoint) {
  PARLEY_CHECK(!impl_->server) << "add endpoints before start()";
  impl_->extra_endpoints.push_back(std::move(endpoint));
}

void Host::set_default_deadline(std::chrono::milliseconds deadline) {
  PARLEY_CHECK(!impl_->server) << "set the default deadline before start()";
  impl_->default_deadline = deadline;
}

actor::ActorSystem* Host::actor_system() { return impl_->system.get(); }

void Host::set_ready(bool ready, std::string reason) {
  std::lock_guard lock(impl_->ready_mu);
  impl_->ready = ready;
  impl_->ready_reason = std::move(reason);
}

Status Host::start() {
  Impl& m = *impl_;
  const int workers = static_cast<int>(config_.get_int("service.workers"));
  m.capacity = static_cast<int>(config_.get_int("service.queue_capacity"));
  m.system = std::make_unique<actor::ActorSystem>(
      actor::ActorSystemOptions{name_ + "-workers", static_cast<std::size_t>(workers)});
  m.pool.emplace(m.system->spawn_pool<Worker>(actor::PoolOptions{
      .name = name_ + "-worker", .size = static_cast<std::size_t>(workers),
      .total_capacity = static_cast<std::size_t>(m.capacity), .messages_per_turn = 1}));

  metrics::register_process_metrics(m.registry);
  metrics::register_build_info(m.registry, name_);
  m.svc.queue_capacity.set(m.capacity);
  m.svc.in_flight_requests.set_function([&m] { return static_cast<double>(m.in_flight.load()); });
  m.svc.queue_depth.set_function([&m] { return static_cast<double>(m.queued.load()); });
  m.svc.ready.set_function([this] {
    std::lock_guard lock(impl_->ready_mu);
    return impl_->ready && !impl_->draining.load() ? 1.0 : 0.0;
  });

  transport::ServerOptions topts;
  topts.endpoints = {config_.get_string("transport.bind")};
  // CURVE when configured: only the listed client keys get through the handshake.
  auto curve = curve_settings(config_);
  if (!curve.ok()) return curve.status();
  if (curve->server) {
    topts.curve = curve->server;
    topts.curve_allowed_clients = curve->allowed_clients;
    PARLEY_LOG(kInfo).kv("allowed_clients", curve->allowed_clients.size()) << "transport: CURVE required";
  }
  topts.endpoints.insert(topts.endpoints.end(), m.extra_endpoints.begin(), m.extra_endpoints.end());
  if (m.default_deadline) {
    topts.default_deadline = *m.default_deadline;
    topts.max_deadline = std::max(topts.max_deadline, *m.default_deadline);
  }
  topts.load_reporter = [&m] {
    return transport::Load{m.in_flight.load(), m.queued.load(), m.capacity, m.draining.load()};
  };
  auto server = transport::Server::start(
      topts, transport::make_handler([&m](std::shared_ptr<transport::ServerCall> call) { m.dispatch(call); }));
  if (!server.ok()) return server.status().with_context("binding " + topts.endpoints[0]);
  m.server = std::move(*server);
  const auto& stats = m.server->stats();
  m.svc.transport_malformed.set_function([&stats] { return static_cast<double>(stats.malformed.load()); });
  m.svc.send_failures("hwm").set_function([&stats] { return static_cast<double>(stats.send_failed_hwm.load()); });
  m.svc.send_failures("unroutable").set_function(
      [&stats] { return static_cast<double>(stats.send_failed_unroutable.load()); });

  http::ServerOptions hopts;
  hopts.host = config_.get_string("http.address");
  hopts.port = static_cast<std::uint16_t>(config_.get_int("http.port"));
  m.http = std::make_unique<http::Server>(hopts);
  http::add_health_routes(*m.http, m.registry, [this] {
    std::lock_guard lock(impl_->ready_mu);
    if (impl_->draining.load()) return http::Readiness{false, "draining"};
    return http::Readiness{impl_->ready, impl_->ready_reason};
  });
  PARLEY_RETURN_IF_ERROR(m.http->start());
  PARLEY_LOG(kInfo) << "listening endpoint=" << m.server->endpoints().at(0) << " http=" << hopts.host << ":"
                    << m.http->port() << " workers=" << workers << " queue_capacity=" << m.capacity;
  return Status::ok();
}

std::vector<std::string> Host::endpoints() const {
  return impl_->server ? impl_->server->endpoints() : std::vector<std::string>{};
}

int Host::http_port() const { return impl_->http ? impl_->http->port() : 0; }

void Host::on_drain(std::function<void(std::chrono::steady_clock::time_point deadline)> fn) {
  impl_->drain_hooks.push_back(std::move(fn));
}

void Host::stop() {
  Impl& m = *impl_;
  if (!m.server) return;
  m.draining.store(true);
  m.server->set_draining(true);
  auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(config_.get_duration("service.drain_grace"));
  auto end = Clock::now() + grace;
  // Hooks (HTTP turns that call other services) and transport calls share one deadline.
  for (auto& hook : m.drain_hooks) hook(end);
  while (Clock::now() < end && (m.server->active_calls() > 0 || m.queued.load() > 0 || m.in_flight.load() > 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  PARLEY_LOG(kInfo) << "drained: active_calls=" << m.server->active_calls();
  m.server->stop();
  m.system->shutdown(std::chrono::milliseconds(0));
  if (m.http) m.http->stop(std::chrono::milliseconds(500));
  m.server.reset();
}

int Host::run() {
  Status started = start();
  if (!started.is_ok()) {
    PARLEY_LOG(kError) << "cannot start: " << started.to_string();
    return 1;
  }
  ::signal(SIGTERM, on_signal);
  ::signal(SIGINT, on_signal);
  while (g_signal.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  PARLEY_LOG(kInfo) << "signal " << g_signal.load() << ": draining";
  stop();
  return 0;
}

}  // namespace parley::service
