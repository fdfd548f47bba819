// Did-you-mean: edit distance and when a hint is (not) offered.
#include "shared/config/suggest.h"

#include <gtest/gtest.h>

namespace parley::config {
namespace {

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("service.workers", "servce.workers"), 1u);
}

TEST(SuggestTest, ClosestMatch) {
  const std::vector<std::string> keys = {"http.port", "service.workers", "service.queue_capacity",
                                         "log.level"};
  EXPECT_EQ(closest_match("servce.workers", keys), "service.workers");
  EXPECT_EQ(closest_match("http.prot", keys), "http.port");
  EXPECT_EQ(closest_match("log.levle", keys), "log.level");
  EXPECT_EQ(closest_match("port", keys), "http.port");  // leaf name
  EXPECT_EQ(closest_match("something.else", keys), std::nullopt);
  EXPECT_EQ(closest_match("x", keys), std::nullopt);
}

TEST(SuggestTest, AmbiguousLeafGivesNoHint) {
  EXPECT_EQ(closest_match("port", {"http.port", "grpc.port"}), std::nullopt);
}

}  // namespace
}  // namespace parley::config
