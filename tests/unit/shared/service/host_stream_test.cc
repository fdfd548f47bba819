// Host::stream over a real transport on loopback: long-lived calls that hold no worker thread.
// 64 concurrent streams on 2 workers all progress (each request's reply comes from "engine" work
// done off the pool and posted back as an event); replies in order; end of stream; idle timeout;
// client cancel reaches the handler; a bad payload; more buffered envelopes than allowed; a
// handler that throws; finish() from another thread through ReplySink.
// Depends on shared/service, shared/transport, tests/support/service.h, the echo protos.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "parley/v1/echo.pb.h"
#include "shared/config/base_schema.h"
#include "shared/service/host.h"
#include "tests/support/service.h"

namespace parley::service {
namespace {

using namespace std::chrono_literals;
constexpr const char* kMethod = "parley.v1.Echo/Chat";

// The result of "engine" work for one request, posted back to its call.
struct Done {
  std::string text;
  int index = 0;
};

// A background worker standing in for an engine: runs jobs after a delay on its own thread and
// calls their completion (which posts an event to the call). Nothing here runs on the host's pool.
class FakeEngine {
 public:
  FakeEngine() : thread_([this] { loop(); }) {}
  ~FakeEngine() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void submit(std::function<void()> done) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back({std::chrono::steady_clock::now() + 2ms, std::move(done)});
    }
    cv_.notify_all();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (jobs_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto [at, fn] = jobs_.front();
      if (std::chrono::steady_clock::now() < at) {
        cv_.wait_until(lock, at);
        continue;
      }
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::function<void()>>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

struct Stats {
  std::atomic<int> handlers{0}, cancelled{0}, ended{0};
  std::mutex mu;
  std::vector<Status> cancel_reasons;
};

// Replies "got <text>" to each request once the fake engine has "computed" it; finishes OK after
// the client closed its side and every pending result went out. "slow" blocks (to fill the
// buffer), "throw" throws, "finish-elsewhere" finishes from another thread.
class ChatHandler final : public StreamHandler<v1::EchoRequest, v1::EchoReply, Done> {
 public:
  ChatHandler(StreamCall<v1::EchoReply, Done>& call, FakeEngine& engine, Stats& stats) : call_(call), engine_(engine), stats_(stats) {
    stats_.handlers.fetch_add(1);
  }
  void on_request(v1::EchoRequest& r) override {
    if (r.text() == "slow") std::this_thread::sleep_for(200ms);  // a misbehaving handler (test only)
    if (r.text() == "throw") throw std::runtime_error("boom");
    if (r.text() == "finish-elsewhere") {
      std::thread([sink = call_.replies()] { sink.finish(internal_error("finished by another thread")); }).detach();
      return;
    }
    ++pending_;
    EventSink<Done> sink = call_.sink();
    engine_.submit([sink, t = r.text(), i = next_++] { (void)sink.post(Done{"got " + t, i}); });
  }
  void on_end_of_stream() override {
    closed_ = true;
    maybe_finish();
  }
  void on_event(Done& d) override {
    --pending_;
    v1::EchoReply reply;
    reply.set_text(d.text);
    reply.set_index(d.index);
    if (!call_.write(reply)) return;
    maybe_finish();
  }
  void on_cancelled(const Status& why) override {
    stats_.cancelled.fetch_add(1);
    std::lock_guard lock(stats_.mu);
    stats_.cancel_reasons.push_back(why);
  }
  ~ChatHandler() override { stats_.ended.fetch_add(1); }

 private:
  void maybe_finish() {
    if (closed_ && pending_ == 0) call_.finish(Status::ok());
  }
  StreamCall<v1::EchoReply, Done>& call_;
  FakeEngine& engine_;
  Stats& stats_;
  int pending_ = 0, next_ = 0;
  bool closed_ = false;
};

struct Harness {
  FakeEngine engine;
  Stats stats;
  std::unique_ptr<Host> host;
  std::unique_ptr<transport::Client> client;

  explicit Harness(std::chrono::milliseconds idle = 5s, std::size_t max_buffered = 256) {
    config::Schema schema = config::service_base_schema("stream-test", "test");
    const char* argv[] = {"stream-test", "--transport.bind=tcp://127.0.0.1:*", "--http.port=0", "--log.level=warn",
                          "--service.workers=2"};
    host = Host::create("stream", schema, 5, argv);
    StreamOptions so;
    so.idle_timeout = idle;
    so.max_buffered = max_buffered;
    host->stream<v1::EchoRequest, v1::EchoReply, Done>(kMethod, so, [this](StreamCall<v1::EchoReply, Done>& call) {
      return std::make_unique<ChatHandler>(call, engine, stats);
    });
    EXPECT_TRUE(host->start().is_ok());
    client = testing::make_client(host->endpoints().at(0));
  }
  ~Harness() { host->stop(); }
};

v1::Envelope request(const std::string& text) {
  v1::Envelope e;
  e.set_method(kMethod);
  v1::EchoRequest r;
  r.set_text(text);
  e.mutable_payload()->PackFrom(r);
  return e;
}
v1::Envelope data(const std::string& text) {
  v1::Envelope e;
  v1::EchoRequest r;
  r.set_text(text);
  e.mutable_payload()->PackFrom(r);
  return e;
}

// One client call: collects reply texts and the final status.
struct ClientStream {
  std::mutex mu;
  std::vector<std::string> replies;
  std::promise<Status> done;
  std::atomic<bool> ended{false};
  transport::CallHandle call;

  void open(transport::Client& client, const std::string& first, std::chrono::milliseconds timeout = 30s) {
    transport::CallOptions o;
    o.client_stream = true;
    o.timeout = timeout;
    call = client.call(request(first), o, [this](Result<v1::Envelope> r) {
      if (!r.ok()) {
        if (!ended.exchange(true)) done.set_value(r.status());
        return;
      }
      if (r->has_payload()) {
        v1::EchoReply reply;
        r->payload().UnpackTo(&reply);
        std::lock_guard lock(mu);
        replies.push_back(reply.text());
      }
      if (r->end_of_stream() && !ended.exchange(true)) done.set_value(Status::ok());
    });
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return replies.size();
  }
};

// "s3-7" (built with append: GCC 12 warns falsely on "literal" + std::string under -O3).
std::string label(const char* prefix, int a, int b = -1) {
  std::string t(prefix);
  t.append(std::to_string(a));
  if (b >= 0) {
    t.push_back('-');
    t.append(std::to_string(b));
  }
  return t;
}

bool wait_for(const std::function<bool()>& ok, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return ok();
}

TEST(HostStream, SixtyFourStreamsOnTwoWorkersAllProgress) {
  Harness h;
  constexpr int kStreams = 64, kRounds = 10;
  std::vector<std::unique_ptr<ClientStream>> streams;
  for (int s = 0; s < kStreams; ++s) {
    streams.push_back(std::make_unique<ClientStream>());
    streams.back()->open(*h.client, label("s", s, 0));
  }
  // Every stream is open at once (64 calls > 2 workers), and each round every stream gets its
  // reply before the next round is sent: none waits for another to end.
  for (int round = 1; round <= kRounds; ++round) {
    ASSERT_TRUE(wait_for(
        [&] {
          for (auto& s : streams) {
            if (s->count() < static_cast<std::size_t>(round)) return false;
          }
          return true;
        },
        20s))
        << "round " << round << ": some stream got no reply while the others were open";
    for (int s = 0; s < kStreams; ++s) ASSERT_TRUE(streams[static_cast<std::size_t>(s)]->call.send(data(label("s", s, round))));
  }
  for (auto& s : streams) ASSERT_TRUE(s->call.close_send());
  for (int s = 0; s < kStreams; ++s) {
    auto f = streams[static_cast<std::size_t>(s)]->done.get_future();
    ASSERT_EQ(f.wait_for(20s), std::future_status::ready) << "stream " << s;
    EXPECT_TRUE(f.get().is_ok());
    std::vector<std::string> want;
    for (int r = 0; r <= kRounds; ++r) want.push_back(label("got s", s, r));
    EXPECT_EQ(streams[static_cast<std::size_t>(s)]->replies, want);  // in order
  }
  EXPECT_TRUE(wait_for([&] { return h.stats.ended.load() == kStreams; }, 5s));
  EXPECT_EQ(h.stats.handlers.load(), kStreams);
  EXPECT_EQ(h.stats.cancelled.load(), 0);
}

TEST(HostStream, IdleTimeoutEndsTheCall) {
  Harness h(300ms);
  ClientStream c;
  c.open(*h.client, "hello");
  auto f = c.done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const Status s = f.get();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
  EXPECT_NE(s.message().find("no message from the client for 300 ms"), std::string::npos) << s.to_string();
  ASSERT_TRUE(wait_for([&] { return h.stats.cancelled.load() == 1 && h.stats.ended.load() == 1; }, 5s));
  EXPECT_EQ(c.replies, std::vector<std::string>{"got hello"});
}

TEST(HostStream, ClientCancelReachesTheHandler) {
  Harness h;
  ClientStream c;
  c.open(*h.client, "hello");
  ASSERT_TRUE(wait_for([&] { return c.count() == 1; }, 5s));
  ASSERT_TRUE(c.call.cancel());
  ASSERT_TRUE(wait_for([&] { return h.stats.cancelled.load() == 1 && h.stats.ended.load() == 1; }, 5s));
  std::lock_guard lock(h.stats.mu);
  EXPECT_EQ(h.stats.cancel_reasons.at(0).code(), StatusCode::kCancelled) << h.stats.cancel_reasons.at(0).to_string();
}

TEST(HostStream, BadPayloadIsInvalidArgument) {
  Harness h;
  ClientStream c;
  c.open(*h.client, "ok");
  v1::Envelope e;
  v1::EchoReply wrong;
  e.mutable_payload()->PackFrom(wrong);
  ASSERT_TRUE(c.call.send(std::move(e)));
  auto f = c.done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const Status s = f.get();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("EchoRequest"), std::string::npos);
  EXPECT_TRUE(wait_for([&] { return h.stats.ended.load() == 1; }, 5s));
}

TEST(HostStream, TooManyBufferedMessagesIsResourceExhausted) {
  Harness h(5s, /*max_buffered=*/8);
  ClientStream c;
  c.open(*h.client, "slow");  // the handler blocks 200 ms on it: the client runs ahead
  for (int i = 0; i < 40; ++i) (void)c.call.send(data(label("x", i)));
  auto f = c.done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const Status s = f.get();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_NE(s.message().find("more than 8 stream messages ahead of the service"), std::string::npos) << s.to_string();
  ASSERT_TRUE(wait_for([&] { return h.stats.cancelled.load() == 1 && h.stats.ended.load() == 1; }, 5s));
}

TEST(HostStream, AHandlerThatThrowsEndsOnlyItsCall) {
  Harness h;
  ClientStream bad, good;
  bad.open(*h.client, "throw");
  good.open(*h.client, "fine");
  auto f = bad.done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(wait_for([&] { return good.count() == 1; }, 5s));
  ASSERT_TRUE(good.call.close_send());
  auto g = good.done.get_future();
  ASSERT_EQ(g.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(g.get().is_ok());
}

TEST(HostStream, FinishFromAnotherThreadStopsTheCall) {
  Harness h;
  ClientStream c;
  c.open(*h.client, "finish-elsewhere");
  auto f = c.done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const Status s = f.get();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("finished by another thread"), std::string::npos);
  // The handler is destroyed promptly (not at the idle timeout) and was not told "cancelled".
  EXPECT_TRUE(wait_for([&] { return h.stats.ended.load() == 1; }, 2s));
  EXPECT_EQ(h.stats.cancelled.load(), 0);
}

}  // namespace
}  // namespace parley::service
