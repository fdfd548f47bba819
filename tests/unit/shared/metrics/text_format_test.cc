// Number formatting and escaping of the Prometheus text format (spellings must match Go's client).
#include "shared/metrics/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace parley::metrics {
namespace {

TEST(FormatDouble, MatchesGoShortestG) {
  EXPECT_EQ(format_double(0), "0");
  EXPECT_EQ(format_double(1), "1");
  EXPECT_EQ(format_double(-1), "-1");
  EXPECT_EQ(format_double(42), "42");
  EXPECT_EQ(format_double(0.005), "0.005");
  EXPECT_EQ(format_double(2.5), "2.5");
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(999999), "999999");
  EXPECT_EQ(format_double(999999.5), "999999.5");
  EXPECT_EQ(format_double(1e6), "1e+06");
  EXPECT_EQ(format_double(1234567), "1.234567e+06");
  EXPECT_EQ(format_double(0.0001), "0.0001");
  EXPECT_EQ(format_double(0.00001), "1e-05");
  EXPECT_EQ(format_double(1.5e-7), "1.5e-07");
  EXPECT_EQ(format_double(1e21), "1e+21");
  EXPECT_EQ(format_double(0.30000000000000004), "0.30000000000000004");
}

TEST(FormatDouble, SpecialValues) {
  EXPECT_EQ(format_double(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_double(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_double(std::nan("")), "NaN");
}

TEST(Escaping, LabelValueEscapesBackslashQuoteNewline) {
  std::string out;
  append_escaped_label_value(out, "a\\b\"c\nd\te");
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd\te");
}

TEST(Escaping, HelpKeepsQuotes) {
  std::string out;
  append_escaped_help(out, "say \"hi\"\\\nbye");
  EXPECT_EQ(out, "say \"hi\"\\\\\\nbye");
}

TEST(Escaping, KeepsValidUtf8AndReplacesInvalidBytes) {
  std::string out;
  append_escaped_label_value(out, "caf\xC3\xA9 \xE2\x82\xAC");  // "café €"
  EXPECT_EQ(out, "caf\xC3\xA9 \xE2\x82\xAC");
  out.clear();
  append_escaped_label_value(out, "a\xFF" "b\xC3");  // stray byte, truncated sequence
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  out.clear();
  append_escaped_label_value(out, "\xC0\xAF");  // overlong '/'
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace parley::metrics
