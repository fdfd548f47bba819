// Envelope helpers: status and load conversion, kind names, remaining-time math, ids.
// Exists so client and server fill envelopes identically.
// Depends on wire.h.
#include "shared/transport/wire.h"

#include <charconv>
#include <cstring>
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
  l->set_accepts_batches(load.accepts_batches);
}

Load load_of(const Envelope& envelope) {
  const auto& l = envelope.load();
  return Load{l.in_flight(), l.queue_depth(), l.capacity(), l.draining(), l.accepts_batches()};
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
  // Six random base-36 characters: ids stay within std::string's 15-byte small-string buffer for
  // the first 36^7 (78 billion) envelopes, so a parsed id costs no allocation of its own. Calls
  // only need ids unique per connection; the random part tells processes apart in logs.
  std::random_device rd;
  const std::uint64_t r = ((static_cast<std::uint64_t>(rd()) << 32) ^ rd()) % 2'176'782'336ull;  // 36^6
  char buf[8];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), r, 36);
  (void)ec;
  prefix_.assign(tag.substr(0, 8));
  prefix_.append(6 - static_cast<std::size_t>(end - buf), '0');
  prefix_.append(buf, end);
  prefix_ += '-';
}

std::string IdGenerator::next() { return format(reserve()); }

std::string IdGenerator::format(std::uint64_t n) const {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n, 36);
  (void)ec;
  std::string out;
  out.reserve(prefix_.size() + static_cast<std::size_t>(end - buf));
  out += prefix_;
  out.append(buf, end);
  return out;
}

std::string_view IdGenerator::next_into(Buffer& buffer) {
  const std::uint64_t n = reserve();
  std::memcpy(buffer.data(), prefix_.data(), prefix_.size());
  char* begin = buffer.data() + prefix_.size();
  auto [end, ec] = std::to_chars(begin, buffer.data() + buffer.size(), n, 36);
  (void)ec;
  return std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
}

std::optional<std::uint64_t> IdGenerator::parse(std::string_view id) const {
  if (id.size() <= prefix_.size() || id.substr(0, prefix_.size()) != prefix_) return std::nullopt;
  std::string_view digits = id.substr(prefix_.size());
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, 36);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  // Only the canonical spelling (to_chars: lowercase, no leading zeros) names a call of ours.
  char again[16];
  auto [e2, ec2] = std::to_chars(again, again + sizeof(again), n, 36);
  if (ec2 != std::errc() || std::string_view(again, static_cast<std::size_t>(e2 - again)) != digits) return std::nullopt;
  return n;
}

}  // namespace parley::transport
