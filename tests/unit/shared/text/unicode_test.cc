// Tests for shared/text/unicode: categories, NFD, lowercase, lenient UTF-8.
// Exists because every tokenizer's correctness rests on these tables.
// Depends on parley_text.
#include "shared/text/unicode.h"

#include <gtest/gtest.h>

namespace parley::text::unicode {
namespace {

TEST(Unicode, Categories) {
  EXPECT_EQ(category(U'A'), Category::kLu);
  EXPECT_EQ(category(U'z'), Category::kLl);
  EXPECT_EQ(category(U'5'), Category::kNd);
  EXPECT_EQ(category(U'!'), Category::kPo);
  EXPECT_EQ(category(U'$'), Category::kSc);
  EXPECT_EQ(category(U' '), Category::kZs);
  EXPECT_EQ(category(U'\n'), Category::kCc);
  EXPECT_EQ(category(0x0301), Category::kMn);    // combining acute
  EXPECT_EQ(category(0x4E2D), Category::kLo);    // 中
  EXPECT_EQ(category(0x00BD), Category::kNo);    // ½
  EXPECT_EQ(category(0x1F600), Category::kSo);   // 😀
  EXPECT_EQ(category(0x200D), Category::kCf);    // ZWJ
  EXPECT_EQ(category(0x10FFFF), Category::kCn);  // unassigned
  EXPECT_EQ(category(0x110000), Category::kCn);  // out of range
  EXPECT_EQ(category(0x0416), Category::kLu);    // Ж
  EXPECT_TRUE(is_letter(U'é'));
  EXPECT_TRUE(is_number(U'٣'));  // Arabic-Indic three
  EXPECT_FALSE(is_letter(U'_'));
}

TEST(Unicode, Whitespace) {
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', U'\v', U'\f', char32_t{0x85}, char32_t{0xA0}, char32_t{0x3000},
                     char32_t{0x2003}}) {
    EXPECT_TRUE(is_whitespace(c)) << static_cast<unsigned>(c);
  }
  EXPECT_FALSE(is_whitespace(0x200B));  // zero width space is Cf, not White_Space
  EXPECT_FALSE(is_whitespace(U'a'));
}

TEST(Unicode, Decompose) {
  char32_t out[4];
  ASSERT_EQ(decompose(U'é', out), 2u);
  EXPECT_EQ(out[0], U'e');
  EXPECT_EQ(out[1], char32_t{0x301});
  ASSERT_EQ(decompose(0x1EC7, out), 3u);  // ệ -> e + dot below + circumflex (recursive)
  EXPECT_EQ(out[0], U'e');
  ASSERT_EQ(decompose(0xD55C, out), 3u);  // 한 -> ᄒ ᅡ ᆫ
  EXPECT_EQ(out[0], char32_t{0x1112});
  EXPECT_EQ(out[1], char32_t{0x1161});
  EXPECT_EQ(out[2], char32_t{0x11AB});
  ASSERT_EQ(decompose(U'a', out), 1u);
  EXPECT_EQ(out[0], U'a');
  ASSERT_EQ(decompose(0xFB01, out), 1u);  // ﬁ: compatibility only, not canonical
}

TEST(Unicode, Lowercase) {
  char32_t out[2];
  ASSERT_EQ(to_lower(U'A', out), 1u);
  EXPECT_EQ(out[0], U'a');
  ASSERT_EQ(to_lower(0x0416, out), 1u);
  EXPECT_EQ(out[0], char32_t{0x0436});  // Ж -> ж
  ASSERT_EQ(to_lower(0x0130, out), 2u);  // İ -> i + combining dot
  EXPECT_EQ(out[0], U'i');
  EXPECT_EQ(out[1], char32_t{0x0307});
  ASSERT_EQ(to_lower(0x03A3, out), 1u);
  EXPECT_EQ(out[0], char32_t{0x03C3});  // Σ -> σ (no final-sigma context)
  ASSERT_EQ(to_lower(U'7', out), 1u);
  EXPECT_EQ(out[0], U'7');
}

TEST(Unicode, DecodeValidAndInvalid) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  auto d = decode_utf8(s, 0);
  EXPECT_EQ(d.cp, U'a');
  d = decode_utf8(s, 1);
  EXPECT_EQ(d.cp, U'é');
  EXPECT_EQ(d.len, 2u);
  d = decode_utf8(s, 3);
  EXPECT_EQ(d.cp, char32_t{0x20AC});
  EXPECT_EQ(d.len, 3u);
  d = decode_utf8(s, 6);
  EXPECT_EQ(d.cp, char32_t{0x1F600});
  EXPECT_EQ(d.len, 4u);
  for (std::string bad : {std::string("\xFF"), std::string("\xC0\xAF"), std::string("\xED\xA0\x80"),
                          std::string("\xE2\x82"), std::string("\x80"), std::string("\xF4\x90\x80\x80")}) {
    d = decode_utf8(bad, 0);
    EXPECT_FALSE(d.valid);
    EXPECT_EQ(d.len, 1u);
    EXPECT_EQ(d.cp, char32_t{0xFFFD});
  }
}

TEST(Unicode, AppendUtf8RoundTrip) {
  std::string s;
  for (char32_t c : {char32_t{0x24}, char32_t{0xA2}, char32_t{0x20AC}, char32_t{0x10348}}) append_utf8(s, c);
  EXPECT_EQ(s, "$\xC2\xA2\xE2\x82\xAC\xF0\x90\x8D\x88");
  std::string bad;
  append_utf8(bad, 0xD800);
  EXPECT_EQ(bad, "\xEF\xBF\xBD");
}

TEST(Unicode, CompleteUtf8Prefix) {
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82"), 2u);      // € missing its last byte
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98"), 2u);  // emoji missing one byte
  EXPECT_EQ(complete_utf8_prefix("ab\xC3"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab\xFF"), 3u);      // invalid byte: not held back
  EXPECT_EQ(complete_utf8_prefix("ab\xE0\x80"), 4u);  // can never become valid (overlong)
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
}

}  // namespace
}  // namespace parley::text::unicode
