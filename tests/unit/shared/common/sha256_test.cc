// shared/common/sha256.h against FIPS 180-4's published examples and sha256sum, whole and fed in
// pieces of every size (the buffering across 64-byte blocks and the padding's two cases).
#include "shared/common/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

TEST(Sha256Test, PublishedDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // sha256sum of a million 'a' (FIPS 180-2's third example).
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PiecesGiveTheWholeDigest) {
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>('a' + i * 7 % 26));
  for (std::size_t len : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 300u}) {
    const std::string s = text.substr(0, len);
    const std::string whole = sha256_hex(s);
    for (std::size_t piece = 1; piece <= 70; piece += 3) {
      Sha256 h;
      for (std::size_t at = 0; at < s.size(); at += piece) h.update(s.substr(at, piece));
      EXPECT_EQ(h.finish_hex(), whole) << "length " << len << " pieces of " << piece;
    }
  }
  // 55 and 56 bytes: the length fits after the 0x80 byte, or needs a second block.
  EXPECT_NE(sha256_hex(text.substr(0, 55)), sha256_hex(text.substr(0, 56)));
}

}  // namespace
}  // namespace parley
