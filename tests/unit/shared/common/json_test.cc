// JSON quoting of untrusted text: escapes, control characters, invalid UTF-8.
#include "shared/common/json.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(quoted("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
}

TEST(JsonTest, KeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(quoted("h\xC3\xA9llo"), "\"h\xC3\xA9llo\"");
  EXPECT_EQ(quoted("bad\xFF"), "\"bad\\ufffd\"");
  // A CESU-8 surrogate (as in the SNIPS data) is not valid UTF-8.
  EXPECT_EQ(quoted("\xED\xA0\xBC"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(utf8_length("\xC0\xAF", 0), 0u);  // overlong
}

}  // namespace
}  // namespace parley
