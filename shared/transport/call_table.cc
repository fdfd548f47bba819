// The client's call table (see call_table.h): a pool of PendingCall records, an open-addressing
// index by call number, the deadline heap. Depends on call_table.h, client_core.h (CallToken).
#include "shared/transport/call_table.h"

#include "shared/transport/client_core.h"

namespace parley::transport::detail {
namespace {

constexpr std::size_t kInitialSlots = 64;
// Records kept for reuse after a burst; beyond this they are freed.
constexpr std::size_t kMaxPooled = 4096;

}  // namespace

void PendingCall::reset() {
  key = 0;
  token.reset();
  std::string().swap(body);  // the next call brings its own bytes (moved in): keep nothing
  options = CallOptions{};
  deadline = {};
  wait_until = {};
  on_reply = nullptr;
  on_view.reset();
  replica = nullptr;
  attempts = 0;
  got_reply = false;
  stream_sent = false;
  send_closed = false;
  waiting = false;
  next_stream_sequence = 1;
  pending_stream.clear();
  tried = TriedReplicas{};
  last_error.clear();
  deadline_hook = DeadlineHook{};
}

CallTable::CallTable() : slots_(kInitialSlots, nullptr) {}

CallTable::~CallTable() {
  for (PendingCall* c : slots_) delete c;
}

std::size_t CallTable::slot_of(std::uint64_t key) const {
  // Keys are consecutive counters: Fibonacci hashing spreads them over the table.
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & (slots_.size() - 1);
}

PendingCall* CallTable::find(std::uint64_t key) const {
  for (std::size_t i = slot_of(key);; i = (i + 1) & (slots_.size() - 1)) {
    PendingCall* c = slots_[i];
    if (c == nullptr) return nullptr;
    if (c->key == key) return c;
  }
}

PendingCall* CallTable::open(std::uint64_t key) {
  if (find(key) != nullptr) return nullptr;
  if (2 * (size_ + 1) > slots_.size()) grow();
  PendingCall* c = nullptr;
  if (!free_.empty()) {
    c = free_.back().release();
    free_.pop_back();
  } else {
    c = new PendingCall();
  }
  c->key = key;
  std::size_t i = slot_of(key);
  while (slots_[i] != nullptr) i = (i + 1) & (slots_.size() - 1);
  slots_[i] = c;
  ++size_;
  return c;
}

void CallTable::close(PendingCall* call) {
  deadlines_.erase(call);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = slot_of(call->key);
  while (slots_[i] != call) i = (i + 1) & mask;
  // Backward-shift deletion: pull later members of the probe run into the hole, so lookups never
  // need tombstones.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; slots_[j] != nullptr; j = (j + 1) & mask) {
    const std::size_t home = slot_of(slots_[j]->key);
    // slots_[j] may move to the hole when its home is not in (hole, j] (cyclically).
    const bool home_after_hole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_after_hole) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = nullptr;
  --size_;
  call->reset();
  if (free_.size() < kMaxPooled) {
    free_.emplace_back(call);
  } else {
    delete call;
  }
}

std::vector<PendingCall*> CallTable::all() const {
  std::vector<PendingCall*> out;
  out.reserve(size_);
  for (PendingCall* c : slots_) {
    if (c != nullptr) out.push_back(c);
  }
  return out;
}

void CallTable::grow() {
  std::vector<PendingCall*> old = std::move(slots_);
  slots_.assign(old.size() * 2, nullptr);
  for (PendingCall* c : old) {
    if (c == nullptr) continue;
    std::size_t i = slot_of(c->key);
    while (slots_[i] != nullptr) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = c;
  }
}

}  // namespace parley::transport::detail
