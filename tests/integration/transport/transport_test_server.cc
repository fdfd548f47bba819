// A transport server process for integration tests: answers "t/Echo" after an optional delay
// (from a worker thread, as a service host would), prints its bound endpoint, drains on SIGTERM.
// Usage: transport_test_server [--endpoint tcp://127.0.0.1:*] [--name NAME] [--delay-ms N]
// Prints "LISTENING <endpoint>" once bound; SIGTERM: drain (finish open calls), exit 0.
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "parley/v1/echo.pb.h"
#include "shared/transport/server.h"

namespace {

using parley::transport::Clock;
using parley::transport::Envelope;
using parley::transport::ServerCall;

/// Finishes each call after `delay` on its own thread (never blocks the I/O thread).
class DelayedEcho : public parley::transport::ServerHandler {
 public:
  DelayedEcho(std::string name, std::chrono::milliseconds delay) : name_(std::move(name)), delay_(delay) {
    worker_ = std::thread([this] { run(); });
  }
  ~DelayedEcho() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void on_call(std::shared_ptr<ServerCall> call) override {
    if (call->method() != "t/Echo") {
      call->finish(parley::unimplemented("unknown method " + std::string(call->method())));
      return;
    }
    {
      std::lock_guard lock(mu_);
      due_.emplace(Clock::now() + delay_, std::move(call));
    }
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = due_.begin();
      if (first->first > Clock::now()) {
        cv_.wait_until(lock, first->first);
        continue;
      }
      auto call = std::move(first->second);
      due_.erase(first);
      lock.unlock();
      parley::v1::EchoRequest req;
      call->request().payload().UnpackTo(&req);
      parley::v1::EchoReply reply;
      reply.set_text(req.text());
      reply.set_replica(name_);
      Envelope out;
      out.mutable_payload()->PackFrom(reply);
      call->finish(std::move(out));
      lock.lock();
    }
  }

  std::string name_;
  std::chrono::milliseconds delay_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::shared_ptr<ServerCall>> due_;
  bool stop_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint = "tcp://127.0.0.1:*";
  std::string name = "server";
  int delay_ms = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--endpoint") == 0) endpoint = argv[i + 1];
    else if (std::strcmp(argv[i], "--name") == 0) name = argv[i + 1];
    else if (std::strcmp(argv[i], "--delay-ms") == 0) delay_ms = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  // Block SIGTERM/SIGINT before any thread starts, then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto handler = std::make_shared<DelayedEcho>(name, std::chrono::milliseconds(delay_ms));
  parley::transport::ServerOptions options;
  options.endpoints = {endpoint};
  options.replica = name;
  auto server = parley::transport::Server::start(options, handler);
  if (!server.ok()) {
    std::fprintf(stderr, "start failed: %s\n", server.status().to_string().c_str());
    return 1;
  }
  std::printf("LISTENING %s\n", (*server)->endpoints()[0].c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  // Graceful drain: refuse new calls, let open ones finish (bounded), then stop.
  (*server)->set_draining(true);
  auto give_up = Clock::now() + std::chrono::seconds(5);
  while ((*server)->active_calls() > 0 && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("DRAINED active=%lld\n", static_cast<long long>((*server)->active_calls()));
  std::fflush(stdout);
  (*server)->stop();
  return 0;
}
