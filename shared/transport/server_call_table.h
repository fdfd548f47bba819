// Private to the transport: the server's open calls, found by (client connection, correlation id).
// Exists so that a call costs the server's I/O thread one hash and no allocation once the table
// is warm: open addressing over the calls' own shared_ptrs, each slot keeping its key's hash (the
// unordered_map it replaces allocated a node per call and hashed both strings on every lookup;
// issue 18). Depends on server.h.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "shared/transport/server.h"

namespace parley::transport::detail {

/// A call's key: views of the call's own strings (nothing copied per call) or of an incoming
/// message (a lookup), with its hash computed once (a call keeps its own: ServerCall::key_hash_).
struct ServerCallKey {
  std::string_view identity;
  std::string_view correlation_id;
  std::size_t hash = 0;

  static ServerCallKey make(std::string_view identity, std::string_view correlation_id) {
    const std::size_t a = std::hash<std::string_view>()(identity);
    return {identity, correlation_id,
            a ^ (std::hash<std::string_view>()(correlation_id) + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2))};
  }
  /// The key of a server call in the table (its hash as stored when it was inserted).
  static ServerCallKey of(const ServerCall& c) { return {c.identity_, c.correlation_id_, c.key_hash_}; }
  bool operator==(const ServerCallKey& o) const {
    return hash == o.hash && identity == o.identity && correlation_id == o.correlation_id;
  }
};

/// The open calls of one server (I/O thread only). A template only so that its tests can fill it
/// with stand-ins; the server's is ServerCallTable. Each slot keeps its key (views of the call's
/// own strings, valid while the table holds the call).
///
///   ServerCallKey key = ServerCallKey::make(identity, correlation_id);
///   if (table.find(key)) -> duplicate;  table.insert(key, call);
///   if (const std::shared_ptr<Call>* c = table.find(key)) ...   // a STREAM_DATA, a CANCEL
///   std::shared_ptr<Call> gone = table.erase(*call, key);        // the table's reference
template <typename Call>
class CallIndex {
 public:
  CallIndex() : slots_(kInitialSlots) {}
  CallIndex(const CallIndex&) = delete;
  CallIndex& operator=(const CallIndex&) = delete;

  /// The call with `key`, or null. The pointer is valid until the table changes.
  const std::shared_ptr<Call>* find(const ServerCallKey& key) const {
    const std::size_t i = index_of(key);
    return i == slots_.size() ? nullptr : &slots_[i].call;
  }
  /// Adds `call` under `key` (views of the call's own strings); false when a call with that key
  /// is already there (nothing added).
  bool insert(const ServerCallKey& key, std::shared_ptr<Call> call) {
    if (index_of(key) != slots_.size()) return false;
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t i = home(key.hash);
    while (slots_[i].call) i = next(i);
    slots_[i] = Slot{key, std::move(call)};
    ++size_;
    return true;
  }
  /// Takes `call` (inserted under `key`) out and returns the table's reference; null when absent.
  std::shared_ptr<Call> erase(const Call& call, const ServerCallKey& key) {
    std::size_t i = home(key.hash);
    while (slots_[i].call && slots_[i].call.get() != &call) i = next(i);
    if (!slots_[i].call) return nullptr;
    std::shared_ptr<Call> out = std::move(slots_[i].call);
    // Backward shift: pull later members of the probe run into the hole, so lookups never need
    // tombstones (a member may move when its home is not in (hole, j], cyclically).
    std::size_t hole = i;
    for (std::size_t j = next(i); slots_[j].call; j = next(j)) {
      const std::size_t h = home(slots_[j].key.hash);
      const bool home_after_hole = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
      if (!home_after_hole) {
        slots_[hole] = std::move(slots_[j]);
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return out;
  }

  std::size_t size() const { return size_; }
  /// Every open call (copies: the caller may erase them while walking).
  std::vector<std::shared_ptr<Call>> all() const {
    std::vector<std::shared_ptr<Call>> out;
    out.reserve(size_);
    for (const Slot& s : slots_) {
      if (s.call) out.push_back(s.call);
    }
    return out;
  }

 private:
  static constexpr std::size_t kInitialSlots = 64;
  struct Slot {
    ServerCallKey key;
    std::shared_ptr<Call> call;  // null = empty
  };
  std::size_t home(std::size_t hash) const { return hash & (slots_.size() - 1); }
  std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }
  std::size_t index_of(const ServerCallKey& key) const {  // slots_.size() when absent
    for (std::size_t i = home(key.hash);; i = next(i)) {
      const Slot& s = slots_[i];
      if (!s.call) return slots_.size();
      if (s.key == key) return i;
    }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_ = std::vector<Slot>(old.size() * 2);
    for (Slot& s : old) {
      if (!s.call) continue;
      std::size_t i = home(s.key.hash);
      while (slots_[i].call) i = next(i);
      slots_[i] = std::move(s);
    }
  }

  std::vector<Slot> slots_;  // power-of-two size, at most half full; linear probing
  std::size_t size_ = 0;
};

using ServerCallTable = CallIndex<ServerCall>;

}  // namespace parley::transport::detail
