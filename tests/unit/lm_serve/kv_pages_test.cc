// KvPageAllocator: growth, all-or-nothing reservation, release, accounting, misuse survived.
#include "services/lm/kv_pages.h"

#include <gtest/gtest.h>

#include <set>

#include "shared/common/check.h"

namespace parley::lm {
namespace {

TEST(KvPageAllocatorTest, GrowsTablesPageByPage) {
  KvPageAllocator pages(8, 4);
  EXPECT_EQ(pages.pages_for(0), 0);
  EXPECT_EQ(pages.pages_for(1), 1);
  EXPECT_EQ(pages.pages_for(4), 1);
  EXPECT_EQ(pages.pages_for(5), 2);
  BlockTable t;
  ASSERT_TRUE(pages.reserve(t, 3));
  EXPECT_EQ(t.size(), 1u);
  ASSERT_TRUE(pages.reserve(t, 4));
  EXPECT_EQ(t.size(), 1u) << "still fits the first page";
  ASSERT_TRUE(pages.reserve(t, 9));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(pages.pages_used(), 3);
  EXPECT_EQ(pages.pages_free(), 5);
  EXPECT_EQ(pages.pages_missing(t, 13), 1);
  EXPECT_EQ(std::set<PageId>(t.begin(), t.end()).size(), 3u) << "distinct pages";
}

TEST(KvPageAllocatorTest, ReservationIsAllOrNothing) {
  KvPageAllocator pages(4, 2);
  BlockTable a, b;
  ASSERT_TRUE(pages.reserve(a, 5));  // 3 pages
  EXPECT_FALSE(pages.reserve(b, 3)) << "needs 2, 1 free";
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pages.pages_used(), 3);
  ASSERT_TRUE(pages.reserve(b, 2));
  EXPECT_EQ(pages.pages_free(), 0);
}

TEST(KvPageAllocatorTest, ReleaseReturnsEveryPageAtOnce) {
  KvPageAllocator pages(6, 4);
  BlockTable a, b;
  ASSERT_TRUE(pages.reserve(a, 16));
  ASSERT_TRUE(pages.reserve(b, 8));
  EXPECT_EQ(pages.pages_free(), 0);
  pages.release(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(pages.pages_used(), 2);
  BlockTable c;
  ASSERT_TRUE(pages.reserve(c, 16)) << "released pages are reusable";
  std::set<PageId> all(b.begin(), b.end());
  all.insert(c.begin(), c.end());
  EXPECT_EQ(all.size(), 6u) << "no page handed out twice";
}

TEST(KvPageAllocatorTest, DoubleReleaseIsABugNotACrash) {
  KvPageAllocator pages(2, 4);
  BlockTable a;
  ASSERT_TRUE(pages.reserve(a, 4));
  BlockTable copy = a;
  pages.release(a);
  const auto bugs = bug_count();
  pages.release(copy);
  EXPECT_EQ(bug_count(), bugs + 1);
  EXPECT_EQ(pages.pages_used(), 0);
  BlockTable foreign{7};
  pages.release(foreign);
  EXPECT_EQ(pages.pages_used(), 0);
}

}  // namespace
}  // namespace parley::lm
