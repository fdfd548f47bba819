// SHA-256 (FIPS 180-4), incremental. Why: content keys a client can influence (the NLU's cache
// of fine-tuned encoders is keyed by the bot's training data) need a hash nobody can collide on
// purpose, which FNV-1a (hash.h) is not; the project links no crypto library for one function.
// Depends on nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// The digest; the object is spent afterwards (construct a new one to hash again).
  std::array<std::uint8_t, 32> finish();
  /// finish() as 64 lower-case hex digits.
  std::string finish_hex();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;  // bytes
};

/// SHA-256 of `s` as hex.
std::string sha256_hex(std::string_view s);

}  // namespace parley
