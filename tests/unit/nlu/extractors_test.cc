// Deterministic extractors: numbers, dates/times against a fixed reference, lookup tables with
// synonyms, regex slots, and the error for bad slot definitions.
#include "services/nlu/extractors.h"

#include <gtest/gtest.h>

#include <thread>

#include "services/nlu/datetime.h"
#include "services/nlu/numbers.h"

namespace parley::nlu {
namespace {

TEST(Numbers, DigitsWordsAndOrdinals) {
  EXPECT_EQ(parse_number("4"), 4.0);
  EXPECT_EQ(parse_number(" 1,500 "), 1500.0);
  EXPECT_EQ(parse_number("2.5"), 2.5);
  EXPECT_EQ(parse_number("four"), 4.0);
  EXPECT_EQ(parse_number("Twenty-one"), 21.0);
  EXPECT_EQ(parse_number("two hundred and five"), 205.0);
  EXPECT_EQ(parse_number("a hundred"), 100.0);
  EXPECT_EQ(parse_number("three thousand two hundred"), 3200.0);
  EXPECT_EQ(parse_number("a dozen"), 12.0);
  EXPECT_FALSE(parse_number("table"));
  EXPECT_FALSE(parse_number("one two"));
  EXPECT_FALSE(parse_number(""));
  EXPECT_EQ(parse_ordinal("3rd"), 3);
  EXPECT_EQ(parse_ordinal("fourteenth"), 14);
  EXPECT_EQ(parse_ordinal("twenty first"), 21);
  EXPECT_FALSE(parse_ordinal("first class"));
  EXPECT_EQ(format_number(4.0), "4");
  EXPECT_EQ(format_number(2.5), "2.5");
}

TEST(Numbers, FindsEveryNumberWithItsSpan) {
  std::string text = "a table for four at 7, then 1,200 more.";
  auto found = find_numbers(text);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(text.substr(found[0].span.begin, found[0].span.end - found[0].span.begin), "four");
  EXPECT_EQ(found[0].value, 4.0);
  EXPECT_EQ(found[1].value, 7.0);
  EXPECT_EQ(text.substr(found[2].span.begin, found[2].span.end - found[2].span.begin), "1,200");
  EXPECT_EQ(found[2].value, 1200.0);
}

// 2024-05-10 is a Friday.
const ReferenceTime kRef{2024, 5, 10, 12, 0};

std::string one(std::string_view text) {
  auto found = find_date_times(text, kRef);
  if (found.size() != 1) return "<" + std::to_string(found.size()) + " matches>";
  return found.front().value;
}

TEST(DateTime, RelativeDaysWeekdaysAndTimes) {
  EXPECT_EQ(one("tomorrow"), "2024-05-11");
  EXPECT_EQ(one("book it for today please"), "2024-05-10");
  EXPECT_EQ(one("the day after tomorrow"), "2024-05-12");
  EXPECT_EQ(one("yesterday"), "2024-05-09");
  EXPECT_EQ(one("on monday"), "2024-05-13");
  EXPECT_EQ(one("friday"), "2024-05-10");
  EXPECT_EQ(one("next friday"), "2024-05-17");
  EXPECT_EQ(one("next monday"), "2024-05-13");
  EXPECT_EQ(one("7pm"), "19:00");
  EXPECT_EQ(one("at 7:30 p.m."), "19:30");
  EXPECT_EQ(one("12 am"), "00:00");
  EXPECT_EQ(one("19:45"), "19:45");
  EXPECT_EQ(one("noon"), "12:00");
  EXPECT_EQ(one("seven pm"), "19:00");
  EXPECT_EQ(one("8 o'clock"), "08:00");
  EXPECT_EQ(one("in 3 days"), "2024-05-13");
  EXPECT_EQ(one("in two hours"), "2024-05-10T14:00");
}

TEST(DateTime, CalendarDatesAndMerging) {
  EXPECT_EQ(one("june fourteenth"), "2024-06-14");
  EXPECT_EQ(one("on the 3rd of march"), "2025-03-03");  // already past this year
  EXPECT_EQ(one("May 12, 2026"), "2026-05-12");
  EXPECT_EQ(one("2024-12-25"), "2024-12-25");
  EXPECT_EQ(one("12/25"), "2024-12-25");
  EXPECT_EQ(one("tomorrow at 7pm"), "2024-05-11T19:00");
  EXPECT_EQ(one("8:15 am on friday"), "2024-05-10T08:15");
  std::string text = "a table tomorrow at 7pm for 4";
  auto found = find_date_times(text, kRef);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(text.substr(found[0].span.begin, found[0].span.end - found[0].span.begin), "tomorrow at 7pm");
  EXPECT_TRUE(find_date_times("a table for four people", kRef).empty());
  EXPECT_TRUE(find_date_times("february 30", kRef).empty());
}

TEST(DateTime, ReferenceTimeParsing) {
  auto r = parse_reference_time("2024-02-29T23:59:10+02:00");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->day, 29);
  EXPECT_EQ(r->minute, 59);
  EXPECT_TRUE(parse_reference_time("").ok());
  EXPECT_EQ(parse_reference_time("2023-02-29").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parse_reference_time("tomorrow").status().message().find("ISO 8601"), std::string::npos);
}

v1::SlotDefinition categorical() {
  v1::SlotDefinition d;
  d.set_name("cuisine");
  d.set_type(v1::SlotDefinition::CATEGORICAL);
  (*d.mutable_values())["italian"].add_synonyms("pasta");
  (*d.mutable_values())["italian"].add_synonyms("Pizza Place");
  (*d.mutable_values())["japanese"].add_synonyms("sushi");
  return d;
}

TEST(Extractors, LookupMapsSynonymsToCanonicalValues) {
  auto ex = make_extractor(categorical());
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  ExtractContext ctx{kRef};
  EXPECT_EQ((*ex)->normalize("Pasta", ctx), "italian");
  EXPECT_EQ((*ex)->normalize("pizza  place", ctx), "italian");
  EXPECT_FALSE((*ex)->normalize("tacos", ctx));
  std::string text = "Sushi or a pizza place? not pastafarian";
  auto found = (*ex)->find(text, ctx);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].value, "japanese");
  EXPECT_EQ(text.substr(found[1].span.begin, found[1].span.end - found[1].span.begin), "pizza place");
  EXPECT_TRUE((*ex)->finds_unprompted());
}

TEST(Extractors, RegexNumberDateFreeText) {
  ExtractContext ctx{kRef};
  v1::SlotDefinition re;
  re.set_name("order");
  re.set_type(v1::SlotDefinition::REGEX);
  re.set_pattern("[A-Z]{2}[0-9]{4}");
  auto r = make_extractor(re);
  ASSERT_TRUE(r.ok());
  auto found = (*r)->find("orders AB1234 and CD5678", ctx);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].value, "CD5678");
  EXPECT_EQ(found[1].span.begin, 18u);

  v1::SlotDefinition num;
  num.set_name("n");
  num.set_type(v1::SlotDefinition::NUMBER);
  auto n = make_extractor(num);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)->normalize("twelve", ctx), "12");
  EXPECT_EQ((*n)->normalize("4 people", ctx), "4");
  EXPECT_FALSE((*n)->finds_unprompted());

  v1::SlotDefinition date;
  date.set_name("d");
  date.set_type(v1::SlotDefinition::DATE_TIME);
  auto d = make_extractor(date);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->normalize("on friday", ctx), "2024-05-10");

  v1::SlotDefinition free;
  free.set_name("note");
  free.set_type(v1::SlotDefinition::FREE_TEXT);
  auto f = make_extractor(free);
  ASSERT_TRUE(f.ok());
  auto all = (*f)->find("  leave it at the door ", ctx);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].value, "leave it at the door");
}

TEST(Extractors, LongInputsDoNotOverflowTheRegexEngine) {
  // std::regex recurses per character a quantifier consumes; these crashed before the input was
  // collapsed (dates) and capped (bot patterns). Run on a thread like the service's handlers.
  std::thread t([] {
    std::string spaces(100000, ' ');
    auto found = find_date_times("at" + spaces + "7pm tomorrow", kRef);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].value, "2024-05-11T19:00");
    EXPECT_EQ(found[0].span.begin, 100002u);
    std::string many;
    while (many.size() < 200000) many += "a table for four tomorrow at 7pm ";
    EXPECT_EQ(find_date_times(many, kRef).size(), many.size() / 33);
    v1::SlotDefinition d;
    d.set_name("anything");
    d.set_type(v1::SlotDefinition::REGEX);
    d.set_pattern("(a|b)*c?");
    auto ex = make_extractor(d);
    ASSERT_TRUE(ex.ok());
    auto m = (*ex)->find(std::string(50000, 'a'), {kRef});
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].span.end, kMaxRegexInputBytes);
  });
  t.join();
}

TEST(Extractors, BacktrackingBotPatternsDoNotStallTheService) {
  // Issue 15: "(a+)+$" on a 27-character answer took 7 s per turn on std::regex (each extra
  // character doubles it); 60 characters would take centuries. On RE2 it is one pass.
  v1::SlotDefinition d;
  d.set_name("evil");
  d.set_type(v1::SlotDefinition::REGEX);
  d.set_pattern("(a+)+$");
  auto ex = make_extractor(d);
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  EXPECT_TRUE((*ex)->find(std::string(60, 'a') + "!", {kRef}).empty());
  d.set_pattern("(x+x+)+y");
  auto ex2 = make_extractor(d);
  ASSERT_TRUE(ex2.ok());
  EXPECT_TRUE((*ex2)->find(std::string(4000, 'x'), {kRef}).empty());
  // Backreferences (what makes matching exponential) are refused at training, with the reason.
  d.set_pattern("(a)\\1");
  auto back = make_extractor(d);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("backreferences are not supported"), std::string::npos)
      << back.status().to_string();
}

TEST(Extractors, MatchingStopsAtTheCallersDeadline) {
  v1::SlotDefinition d;
  d.set_name("word");
  d.set_type(v1::SlotDefinition::REGEX);
  d.set_pattern("[a-z]+");
  auto ex = make_extractor(d);
  ASSERT_TRUE(ex.ok());
  ExtractContext live{kRef};
  EXPECT_EQ((*ex)->find("one two three", live).size(), 3u);
  ExtractContext expired{kRef};
  expired.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  EXPECT_TRUE((*ex)->find("one two three", expired).empty());
}

TEST(Extractors, BadDefinitionsAreNamed) {
  v1::SlotDefinition d;
  d.set_name("order");
  d.set_type(v1::SlotDefinition::REGEX);
  d.set_pattern("([A-Z");
  auto r = make_extractor(d);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("slot 'order'"), std::string::npos) << r.status().to_string();
  d.set_pattern("");
  EXPECT_FALSE(make_extractor(d).ok());
  d.set_type(v1::SlotDefinition::CATEGORICAL);
  EXPECT_NE(make_extractor(d).status().message().find("at least one value"), std::string::npos);
  d.set_type(v1::SlotDefinition::TYPE_UNSPECIFIED);
  EXPECT_NE(make_extractor(d).status().message().find("unspecified"), std::string::npos);
}

}  // namespace
}  // namespace parley::nlu
