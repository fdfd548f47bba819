// RedisServer: a real redis-server on a free loopback port with its own temp dir, for integration
// tests (the session store's and the orchestrator failover's). Exists so tests never touch a
// shared Redis. Depends on tests/support (ChildProcess, free_tcp_port) and hiredis.
#pragma once

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley::testing {

/// Path of redis-server: $PARLEY_REDIS_SERVER, else /usr/bin/redis-server; "" when absent
/// (tests then GTEST_SKIP with a message).
inline std::string redis_server_binary() {
  const char* env = std::getenv("PARLEY_REDIS_SERVER");
  std::string path = env != nullptr && *env != '\0' ? env : "/usr/bin/redis-server";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

/// One redis-server child. Persistence is an append-only file fsynced on every write, so a
/// restart (start() after kill()) keeps the data, like a Redis with a persistent volume.
/// Not thread-safe; owned by one test.
///
///   RedisServer redis;
///   ASSERT_TRUE(redis.start()) << redis.log();
///   RedisStore store({.port = redis.port()});
///   redis.kill(); redis.start();   // same port, same data
class RedisServer {
 public:
  RedisServer() : port_(free_tcp_port()), dir_(make_temp_dir("parley-redis")) {}

  /// Starts (or restarts) the server on the same port and dir; true once it answers PING.
  bool start() {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{redis_server_binary(), "--port", std::to_string(port_), "--bind",
                                 "127.0.0.1", "--dir", dir_, "--save", "", "--appendonly", "yes",
                                 "--appendfsync", "always", "--protected-mode", "no",
                                 "--daemonize", "no", "--loglevel", "warning"},
        dir_ + "/redis.log");
    return wait_until([&] { return ping(); }, std::chrono::seconds(10));
  }
  void kill() {
    if (process_) {
      process_->kill();
      process_->wait_for(std::chrono::seconds(5));
    }
  }
  /// SIGSTOP / SIGCONT: a server that is up but does not answer (timeouts, not refusals).
  void pause() { ::kill(process_->pid(), SIGSTOP); }
  void resume() { ::kill(process_->pid(), SIGCONT); }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_ ? process_->log() : std::string("(not started)"); }

  bool ping() const {
    auto reply = command({"PING"});
    return reply.first && reply.second == "PONG";
  }

  /// One raw command on a fresh connection (test-side inspection: PTTL, TYPE, ...). Returns
  /// {ok, reply as text} (integers as decimal).
  std::pair<bool, std::string> command(const std::vector<std::string>& argv) const {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c == nullptr || c->err != 0) {
      if (c != nullptr) redisFree(c);
      return {false, ""};
    }
    redisSetTimeout(c, tv);
    std::vector<const char*> p;
    std::vector<std::size_t> l;
    for (const auto& a : argv) {
      p.push_back(a.data());
      l.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), p.data(), l.data()));
    std::pair<bool, std::string> out{false, ""};
    if (r != nullptr) {
      out.first = r->type != REDIS_REPLY_ERROR;
      if (r->type == REDIS_REPLY_INTEGER) {
        out.second = std::to_string(r->integer);
      } else if (r->str != nullptr) {
        out.second.assign(r->str, r->len);
      }
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

 private:
  int port_;
  std::string dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace parley::testing
