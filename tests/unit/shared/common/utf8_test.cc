// shared/common/utf8.h and hash.h: the one home for UTF-8 and FNV-1a (issue 15): validity
// (overlongs, surrogates, truncation, > U+10FFFF), lenient decoding, repair, excerpts of hostile
// input, streamed prefixes, and the two FNV-1a variants against published values.
#include "shared/common/utf8.h"

#include <gtest/gtest.h>

#include "shared/common/hash.h"

namespace parley {
namespace {

TEST(Utf8Test, ValidityMatchesTheStandard) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  std::size_t bad = 99;
  EXPECT_FALSE(valid_utf8("ab\xC0\xAF", &bad));  // overlong '/'
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));      // overlong, 3 bytes
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(valid_utf8("\x80"));              // stray continuation
  EXPECT_EQ(find_invalid_utf8("ok\xFF"), std::optional<std::size_t>(2));
  EXPECT_EQ(utf8_length("a", 0), 1u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80", 0), 4u);
  Status s = check_utf8("question", "x\xFFy");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("question is not valid UTF-8"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("offset 1"), std::string::npos) << s.to_string();
}

TEST(Utf8Test, DecodeEncodeAndRepair) {
  std::string_view s = "\xC3\xA9\xFFz";
  auto d = decode_utf8(s, 0);
  EXPECT_TRUE(d.valid);
  EXPECT_EQ(d.cp, U'\u00E9');
  EXPECT_EQ(d.len, 2u);
  d = decode_utf8(s, 2);
  EXPECT_FALSE(d.valid);
  EXPECT_EQ(d.cp, kReplacementChar);
  EXPECT_EQ(d.len, 1u);
  std::string out;
  append_utf8(out, 0x1F600);
  append_utf8(out, 0xD800);  // a surrogate is not encodable
  EXPECT_EQ(out, "\xF0\x9F\x98\x80\xEF\xBF\xBD");
  std::string repaired;
  append_valid_utf8(repaired, "a\xFF\xFE" "b");
  EXPECT_EQ(repaired, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
}

TEST(Utf8Test, ExcerptsAreShortValidAndCutOnBoundaries) {
  EXPECT_EQ(excerpt("short"), "short");
  const std::string hostile = std::string(5000, 'A');
  std::string e = excerpt(hostile, 40);
  EXPECT_EQ(e, std::string(40, 'A') + "...");
  // A cut in the middle of a character backs off to its start.
  EXPECT_EQ(excerpt("ab\xE2\x82\xAC" "cd", 3), "ab...");
  EXPECT_TRUE(valid_utf8(excerpt("\xFF\xFE\xFD", 2)));
  EXPECT_EQ(utf8_floor("ab\xE2\x82\xAC", 4), 2u);
  EXPECT_EQ(utf8_floor("abc", 10), 3u);
}

TEST(Utf8Test, CompletePrefixHoldsBackOnlyAViableTail) {
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82"), 2u);   // half a euro sign: wait for the rest
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE0\x80"), 4u);   // can never become valid: emit it
}

TEST(HashTest, Fnv1aMatchesPublishedValues) {
  // Reference values of 64-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/).
  static_assert(fnv1a("") == 0xcbf29ce484222325ULL);
  static_assert(fnv1a("a") == 0xaf63dc4c8601ec8cULL);
  static_assert(fnv1a("foobar") == 0x85944171f73967e8ULL);
  // The feature hashers' seeded variant: seeds give independent values, and seed 0 is its basis.
  EXPECT_NE(fnv1a_seeded("word", 17), fnv1a_seeded("word", 18));
  EXPECT_EQ(fnv1a_seeded("", 0), 1469598103934665603ULL);
}

}  // namespace
}  // namespace parley
