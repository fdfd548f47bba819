// Executors: where actor handlers run. A production thread pool and a manual one for tests.
// Exists so the actor runtime never owns threads directly: services pass a ThreadPoolExecutor,
// tests pass a ManualExecutor and step one handler at a time. Depends on nothing (Asio in the .cc).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace parley::actor {

/// Runs posted tasks, in any order and on any of its threads.
/// Threading: post() is thread-safe and never runs the task inline (it only queues it).
/// Ownership: the executor owns a task from post() until it has run (or been dropped at shutdown).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> task) = 0;
};

/// N worker threads on a Boost.Asio io_context; the production executor.
///
///   ThreadPoolExecutor pool(4, "engine");
///   pool.post([] { work(); });
///   pool.shutdown();  // runs what is queued, then joins (the destructor does this too)
///
/// A task that throws is caught and logged as a bug (it never kills a worker thread).
/// Threading: post() from any thread; shutdown() from any thread that is not one of the pool's.
class ThreadPoolExecutor final : public Executor {
 public:
  /// `threads` == 0 means std::thread::hardware_concurrency(). Threads are named "<name>/<i>".
  explicit ThreadPoolExecutor(std::size_t threads = 0, std::string name = "actors");
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void post(std::function<void()> task) override;
  /// Lets the queued tasks (and the tasks they post) finish, then joins the threads. Idempotent.
  /// Tasks posted after shutdown() are dropped and logged as a bug.
  void shutdown();
  std::size_t threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A queue that runs tasks only when told to: deterministic actor tests with no sleeps.
///
///   ManualExecutor ex;
///   ActorSystem sys(ex, clock);
///   auto ref = sys.spawn<Counter>({.name = "c"});
///   (void)ref.tell(Inc{});
///   ex.run_all();            // runs every handler that is (or becomes) ready, in FIFO order
///
/// Threading: post() from any thread; run_one()/run_all() from one thread at a time (the test's).
class ManualExecutor final : public Executor {
 public:
  ManualExecutor() = default;
  ~ManualExecutor() override;
  ManualExecutor(const ManualExecutor&) = delete;
  ManualExecutor& operator=(const ManualExecutor&) = delete;

  void post(std::function<void()> task) override;
  /// Runs the oldest queued task; false when none was queued.
  bool run_one();
  /// Runs tasks until the queue is empty (tasks posted meanwhile run too) or `limit` ran.
  /// Returns how many ran.
  std::size_t run_all(std::size_t limit = 1'000'000);
  /// Tasks queued and not yet run.
  std::size_t pending() const;

 private:
  mutable std::mutex mu_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
};

}  // namespace parley::actor
