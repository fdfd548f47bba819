// Non-cryptographic hashing: 64-bit FNV-1a, the one copy every feature hasher uses. Exists
// because it was pasted into nlu/featurizer.cc and qa/embedder.cc (issue 15). Never use it where
// an attacker gains from a collision (keys, ids, hash tables of client input): it is not a MAC.
// Depends on nothing.
#pragma once

#include <cstdint>
#include <string_view>

namespace parley {

namespace detail {
constexpr std::uint64_t fnv1a_from(std::uint64_t h, std::string_view s) {
  for (char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}
}  // namespace detail

/// Standard 64-bit FNV-1a of `s` (offset basis 14695981039346656037).
constexpr std::uint64_t fnv1a(std::string_view s) { return detail::fnv1a_from(14695981039346656037ULL, s); }

/// The seeded FNV-1a of the feature hashers (NLU hash featurizer, QA hash embedder): the offset
/// basis 1469598103934665603 XOR `seed`, so one text hashes independently under different seeds.
/// That basis is the standard one with its last digit lost in an old copy; it is kept because
/// vectors (and the figures of tests that use them) depend on it.
constexpr std::uint64_t fnv1a_seeded(std::string_view s, std::uint64_t seed) {
  return detail::fnv1a_from(1469598103934665603ULL ^ seed, s);
}

}  // namespace parley
