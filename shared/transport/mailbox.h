// Mailbox<T>: the thread-safe hand-off into a transport I/O thread (queue + eventfd wake-up).
// Exists because ZeroMQ sockets belong to one thread: every other thread reaches them by posting
// here; the I/O thread polls fd() beside its sockets' ZMQ_FDs, so it sleeps without a timeout
// loop and wakes within microseconds. Depends on Linux eventfd, shared/common.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/common/check.h"

namespace parley::transport {

/// The wake-up descriptor behind a Mailbox: a non-blocking eventfd. A separate type so that tests
/// can substitute one that lets another thread act in the middle of consume() (the interleaving
/// that lost wake-ups in issue 18).
class EventFd {
 public:
  EventFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    PARLEY_CHECK(fd_ >= 0) << "eventfd: " << std::strerror(errno);
  }
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  ~EventFd() { ::close(fd_); }

  int fd() const { return fd_; }
  /// Makes fd() readable (poll(2) reports POLLIN until consume()).
  void signal() {
    std::uint64_t one = 1;
    ssize_t n = ::write(fd_, &one, sizeof(one));
    (void)n;  // EAGAIN only if the counter is saturated: the fd is readable anyway
  }
  /// Makes fd() unreadable, swallowing every signal() so far (no-op when there was none).
  void consume() {
    std::uint64_t value = 0;
    ssize_t n = ::read(fd_, &value, sizeof(value));
    (void)n;
  }

 private:
  int fd_;
};

/// Multi-producer, single-consumer queue with a pollable wake-up descriptor.
///
///   Mailbox<Cmd> box;                  // owner (I/O) thread calls set_owner() once it runs
///   box.push(cmd);                     // any thread
///   // I/O thread: poll({box.fd(), POLLIN}, ...); box.drain(batch, revents & POLLIN);
///
/// Threading: push(), wake() and close() from any thread; drain(), has_items() and set_owner()
/// from the owner only. A push from the owner thread itself writes no wake-up (the owner checks
/// has_items() before it sleeps), which keeps re-entrant posts from callbacks cheap.
///
/// Wake-up rule (the invariant that issue 18 broke): once drain() returns, any item queued
/// afterwards is signalled on fd(). Only the first push after a drain pays for the write(2):
/// `armed_` says "a write is done or owed since the last drain", and drain() clears it only
/// AFTER it consumed the eventfd (see drain()).
template <typename T, typename WakeUp = EventFd>
class Mailbox {
 public:
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  int fd() const { return wake_up_.fd(); }
  void set_owner(std::thread::id id) { owner_.store(id); }
  bool on_owner_thread() const { return std::this_thread::get_id() == owner_.load(); }

  /// Queues `item`; false (item dropped) once closed.
  bool push(T&& item) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    if (on_owner_thread()) return true;
    if (!armed_.exchange(true, std::memory_order_seq_cst)) wake_up_.signal();
    return true;
  }

  /// Appends everything queued to `out`. `signaled`: poll(2) reported fd() readable.
  void drain(std::vector<T>& out, bool signaled) {
    // Consume the wake-up when poll saw it or a producer armed it, THEN disarm. Disarming first
    // (the code before issue 18) let a producer find the mailbox disarmed and write, and that
    // write be swallowed by our read: `armed_` stayed true with the eventfd empty, so every later
    // push skipped its write and the owner slept until an unrelated event (a ping, up to a second
    // later). In this order a producer that still sees `armed_` set pushed its item before our
    // store, hence before the swap below, which takes it; one that sees it clear writes. A write
    // landing between our read and our store costs one spurious wake-up, never a lost one.
    if (signaled || armed_.load(std::memory_order_seq_cst)) {
      wake_up_.consume();
      armed_.store(false, std::memory_order_seq_cst);
    }
    std::lock_guard lock(mu_);
    if (out.empty()) {
      out.swap(items_);
    } else {
      for (auto& item : items_) out.push_back(std::move(item));
      items_.clear();
    }
  }

  bool has_items() const {
    std::lock_guard lock(mu_);
    return !items_.empty();
  }

  /// Refuses further pushes; items already queued stay for a last drain().
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

  /// Wakes the owner without an item (e.g. to notice a stop flag).
  void wake() { wake_up_.signal(); }

  /// Tests only: the wake-up, to interleave other threads with drain().
  WakeUp& wake_up_for_testing() { return wake_up_; }

 private:
  WakeUp wake_up_;
  std::atomic<std::thread::id> owner_{};
  std::atomic<bool> armed_{false};
  mutable std::mutex mu_;
  std::vector<T> items_;  // guarded by mu_
  bool closed_ = false;   // guarded by mu_
};

}  // namespace parley::transport
