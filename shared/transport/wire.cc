// Envelope helpers: status and load conversion, kind names, remaining-time math, ids.
// Exists so client and server fill envelopes identically.
// Depends on wire.h.
#include "shared/transport/wire.h"

#include <charconv>
#include <random>

namespace parley::transport {

void set_status(Envelope& envelope, const Status& status) {
  auto* s = envelope.mutable_status();
  s->set_code(static_cast<v1::Status::Code>(static_cast<int>(status.code())));
  s->set_message(status.message());
}

Status status_of(const Envelope& envelope) {
  if (!envelope.has_status()) return Status::ok();
  const auto& s = envelope.status();
  return Status(status_code_from_int(static_cast<int>(s.code())), s.message());
}

void set_load(Envelope& envelope, const Load& load) {
  auto* l = envelope.mutable_load();
  l->set_in_flight(load.in_flight);
  l->set_queue_depth(load.queue_depth);
  l->set_capacity(load.capacity);
  l->set_draining(load.draining);
}

Load load_of(const Envelope& envelope) {
  const auto& l = envelope.load();
  return Load{l.in_flight(), l.queue_depth(), l.capacity(), l.draining()};
}

std::string kind_name(int kind) {
  if (v1::EnvelopeKind_IsValid(kind)) return v1::EnvelopeKind_Name(static_cast<v1::EnvelopeKind>(kind));
  return "KIND_" + std::to_string(kind);
}

std::int64_t remaining_us(Clock::time_point deadline, Clock::time_point now) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
  if (left == 0) return -1;  // exactly at the deadline: already expired, and 0 would mean "none"
  return left;
}

IdGenerator::IdGenerator(std::string_view tag) {
  std::random_device rd;
  std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), r, 36);
  (void)ec;
  prefix_.assign(tag);
  prefix_.append(buf, end);
  prefix_ += '-';
}

std::string IdGenerator::next() {
  std::uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n, 36);
  (void)ec;
  std::string out;
  out.reserve(prefix_.size() + static_cast<std::size_t>(end - buf));
  out += prefix_;
  out.append(buf, end);
  return out;
}

}  // namespace parley::transport
