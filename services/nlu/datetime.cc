// Date/time expressions (see datetime.h). Each rule is a bounded regular expression over the
// lower-cased text producing a date part or a time part; overlapping matches keep the longest,
// and a date followed (or preceded) by a time merges into one date-time value.
#include "services/nlu/datetime.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <regex>

#include "services/nlu/numbers.h"

namespace parley::nlu {

namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr std::array<std::string_view, 12> kMonths{"january",   "february", "march",    "april",
                                                   "may",       "june",     "july",     "august",
                                                   "september", "october",  "november", "december"};
constexpr std::array<std::string_view, 7> kWeekdays{"monday", "tuesday",  "wednesday", "thursday",
                                                    "friday", "saturday", "sunday"};

int month_index(std::string_view w) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (w == kMonths[i] || (w.size() >= 3 && kMonths[i].substr(0, w.size()) == w)) return static_cast<int>(i) + 1;
  }
  return 0;
}

sys_days to_days(const ReferenceTime& r) {
  return sys_days(year_month_day(std::chrono::year(r.year), std::chrono::month(static_cast<unsigned>(r.month)),
                                 std::chrono::day(static_cast<unsigned>(r.day))));
}

std::string format_date(sys_days d) {
  year_month_day ymd(d);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string format_time(int h, int m) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%02d:%02d", h, m);
  return buf;
}

// Monday = 0.
int weekday_of(sys_days d) { return static_cast<int>(std::chrono::weekday(d).iso_encoding()) - 1; }

struct Part {
  ByteSpan span;
  std::optional<sys_days> date;
  std::optional<std::pair<int, int>> time;  // hour, minute
};

std::string alternatives(const auto& words) {
  std::string s;
  for (const auto& w : words) {
    if (!s.empty()) s += "|";
    s += w;
  }
  return s;
}

const std::string& ordinal_words() {
  static const std::string kWords =
      "thirty first|twenty first|twenty second|twenty third|twenty fourth|twenty fifth|twenty sixth|twenty seventh|"
      "twenty eighth|twenty ninth|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
      "thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth";
  return kWords;
}

std::string month_alternatives() {
  return "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?"
         "|"
         "nov(?:ember)?|dec(?:ember)?";
}

const std::string kHourWords = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve";

struct Rules {
  std::regex iso, us, month_day, day_month, relative, weekday, in_n, time_ampm, time_colon, time_named, oclock, at_hour;
  Rules() {
    const auto f = std::regex::ECMAScript | std::regex::optimize;
    // Built with append(): GCC 12's -Wrestrict misfires on "literal" + std::string at -O3.
    std::string months("(");
    months.append(month_alternatives()).append(")");
    std::string day = "(\\d{1,2}(?:st|nd|rd|th)?|" + ordinal_words() + ")";
    std::string hour = "(\\d{1,2}|" + kHourWords + ")";
    iso = std::regex("\\b(\\d{4})-(\\d{1,2})-(\\d{1,2})\\b", f);
    us = std::regex("\\b(\\d{1,2})/(\\d{1,2})(?:/(\\d{4}|\\d{2}))?\\b", f);
    month_day = std::regex("\\b" + months + "\\.?\\s+(?:the\\s+)?" + day + "\\b(?:,?\\s+(\\d{4})\\b)?", f);
    day_month = std::regex("\\b(?:the\\s+)?" + day + "\\s+(?:of\\s+)?" + months + "\\b(?:,?\\s+(\\d{4})\\b)?", f);
    relative = std::regex("\\b((?:the\\s+)?day\\s+after\\s+tomorrow|tomorrow|today|tonight|yesterday|now)\\b", f);
    weekday = std::regex("\\b(?:(this|next|coming|on)\\s+)?(" + alternatives(kWeekdays) + ")s?\\b", f);
    in_n = std::regex(
        "\\bin\\s+(\\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
        "fifteen|twenty|thirty|forty five)\\s+(minute|hour|day|week|month)s?\\b",
        f);
    time_ampm = std::regex("\\b" + hour + "(?:[:.](\\d{2}))?\\s*(a\\.?\\s?m\\b\\.?|p\\.?\\s?m\\b\\.?)", f);
    time_colon = std::regex("\\b(\\d{1,2}):(\\d{2})\\b", f);
    time_named = std::regex("\\b(noon|midday|midnight)\\b", f);
    oclock = std::regex("\\b" + hour + "\\s*o'?\\s?clock\\b", f);
    at_hour = std::regex("\\bat\\s+(\\d{1,2})\\b(?!\\s*(?:[:/]|%|people|persons|guests))", f);
  }
};

const Rules& rules() {
  static const Rules kRules;
  return kRules;
}

int hour_value(const std::string& s) {
  if (auto v = parse_number(s)) return static_cast<int>(*v);
  return -1;
}

std::optional<sys_days> make_date(int y, int m, int d) {
  if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  year_month_day ymd(std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                     std::chrono::day(static_cast<unsigned>(d)));
  if (!ymd.ok()) return std::nullopt;
  return sys_days(ymd);
}

// Month and day without a year: the next occurrence on or after the reference day.
std::optional<sys_days> next_month_day(int m, int d, const ReferenceTime& ref, int explicit_year) {
  if (explicit_year > 0) return make_date(explicit_year, m, d);
  auto this_year = make_date(ref.year, m, d);
  if (this_year && *this_year >= to_days(ref)) return this_year;
  auto next = make_date(ref.year + 1, m, d);
  return next ? next : this_year;
}

int day_value(const std::string& s) {
  if (auto o = parse_ordinal(s)) return *o;
  if (auto v = parse_number(s)) return static_cast<int>(*v);
  return -1;
}

void collect(std::string_view lower, const ReferenceTime& ref, std::vector<Part>& parts) {
  const Rules& r = rules();
  const std::string text(lower);
  const sys_days today = to_days(ref);
  auto each = [&](const std::regex& re, auto fn) {
    try {
      for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
        const std::smatch& m = *it;
        Part p;
        p.span = {static_cast<std::uint32_t>(m.position(0)), static_cast<std::uint32_t>(m.position(0) + m.length(0))};
        if (fn(m, p)) parts.push_back(p);
      }
    } catch (const std::regex_error&) {
      // Too complex for std::regex on this input: no matches from this rule.
    }
  };
  each(r.iso, [&](const std::smatch& m, Part& p) {
    p.date = make_date(std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]));
    return p.date.has_value();
  });
  each(r.us, [&](const std::smatch& m, Part& p) {
    int y = m[3].matched ? std::stoi(m[3]) : 0;
    if (y > 0 && y < 100) y += 2000;
    p.date = next_month_day(std::stoi(m[1]), std::stoi(m[2]), ref, y);
    return p.date.has_value();
  });
  auto month_day = [&](const std::string& month, const std::string& day, const std::ssub_match& year, Part& p) {
    int mo = month_index(month);
    int d = day_value(day);
    p.date = next_month_day(mo, d, ref, year.matched ? std::stoi(year) : 0);
    return p.date.has_value();
  };
  each(r.month_day, [&](const std::smatch& m, Part& p) { return month_day(m[1], m[2], m[3], p); });
  each(r.day_month, [&](const std::smatch& m, Part& p) { return month_day(m[2], m[1], m[3], p); });
  each(r.relative, [&](const std::smatch& m, Part& p) {
    std::string w = m[1];
    if (w == "today" || w == "tonight") {
      p.date = today;
    } else if (w == "tomorrow") {
      p.date = today + days(1);
    } else if (w == "yesterday") {
      p.date = today - days(1);
    } else if (w == "now") {
      p.date = today;
      p.time = std::make_pair(ref.hour, ref.minute);
    } else {
      p.date = today + days(2);
    }
    return true;
  });
  each(r.weekday, [&](const std::smatch& m, Part& p) {
    int target = 0;
    for (std::size_t i = 0; i < kWeekdays.size(); ++i) {
      if (m[2].str() == kWeekdays[i]) target = static_cast<int>(i);
    }
    int now = weekday_of(today);
    int ahead = (target - now + 7) % 7;
    if (m[1].matched && m[1] == "next") {
      // The occurrence in the following Monday-based week.
      ahead = 7 - now + target;
    }
    p.date = today + days(ahead);
    return true;
  });
  each(r.in_n, [&](const std::smatch& m, Part& p) {
    std::string n = m[1];
    double v = (n == "a" || n == "an") ? 1 : parse_number(n).value_or(-1);
    if (v < 0 || v > 1000) return false;
    int k = static_cast<int>(v);
    std::string unit = m[2];
    if (unit == "day") {
      p.date = today + days(k);
    } else if (unit == "week") {
      p.date = today + days(7 * k);
    } else if (unit == "month") {
      year_month_day ymd(today);
      ymd += std::chrono::months(k);
      if (!ymd.ok()) ymd = ymd.year() / ymd.month() / std::chrono::last;
      p.date = sys_days(ymd);
    } else {
      long minutes = static_cast<long>(ref.hour) * 60 + ref.minute + static_cast<long>(k) * (unit == "hour" ? 60 : 1);
      p.date = today + days(minutes / (24 * 60));
      minutes %= 24 * 60;
      p.time = std::make_pair(static_cast<int>(minutes / 60), static_cast<int>(minutes % 60));
    }
    return true;
  });
  each(r.time_ampm, [&](const std::smatch& m, Part& p) {
    int h = hour_value(m[1]);
    int mi = m[2].matched ? std::stoi(m[2]) : 0;
    if (h < 1 || h > 12 || mi > 59) return false;
    bool pm = m[3].str().front() == 'p';
    h = h % 12 + (pm ? 12 : 0);
    p.time = std::make_pair(h, mi);
    return true;
  });
  each(r.time_colon, [&](const std::smatch& m, Part& p) {
    int h = std::stoi(m[1]);
    int mi = std::stoi(m[2]);
    if (h > 23 || mi > 59) return false;
    p.time = std::make_pair(h, mi);
    return true;
  });
  each(r.time_named, [&](const std::smatch& m, Part& p) {
    p.time = std::make_pair(m[1] == "midnight" ? 0 : 12, 0);
    return true;
  });
  each(r.oclock, [&](const std::smatch& m, Part& p) {
    int h = hour_value(m[1]);
    if (h < 0 || h > 23) return false;
    p.time = std::make_pair(h, 0);
    return true;
  });
  each(r.at_hour, [&](const std::smatch& m, Part& p) {
    int h = std::stoi(m[1]);
    if (h > 23) return false;
    // The value is the hour; the span covers just the number (the "at" is glue, not value).
    p.span.begin = static_cast<std::uint32_t>(m.position(1));
    p.time = std::make_pair(h, 0);
    return true;
  });
}

bool glue_only(std::string_view s) {
  static const std::regex kGlue("^\\s*(?:,|at|on|in the|by|around|about)?\\s*$");
  return std::regex_match(s.begin(), s.end(), kGlue);
}

}  // namespace

Result<ReferenceTime> parse_reference_time(std::string_view text) {
  ReferenceTime r;
  if (text.empty()) {
    auto now = std::chrono::system_clock::now();
    auto d = std::chrono::floor<days>(now);
    year_month_day ymd(d);
    auto mins = std::chrono::duration_cast<std::chrono::minutes>(now - d).count();
    r.year = static_cast<int>(ymd.year());
    r.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    r.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    r.hour = static_cast<int>(mins / 60);
    r.minute = static_cast<int>(mins % 60);
    return r;
  }
  static const std::regex kRef("^(\\d{4})-(\\d{2})-(\\d{2})(?:[T ](\\d{2}):(\\d{2}).*)?$");
  std::match_results<std::string_view::const_iterator> m;
  auto bad = [&] {
    return invalid_argument("reference_time '" + excerpt(text) +
                            "' is not an ISO 8601 date or date-time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)");
  };
  if (text.size() > 64 || !std::regex_match(text.begin(), text.end(), m, kRef)) return bad();
  r.year = std::stoi(m[1]);
  r.month = std::stoi(m[2]);
  r.day = std::stoi(m[3]);
  if (m[4].matched) {
    r.hour = std::stoi(m[4]);
    r.minute = std::stoi(m[5]);
  }
  if (!make_date(r.year, r.month, r.day) || r.hour > 23 || r.minute > 59) return bad();
  return r;
}

std::vector<DateTimeMatch> find_date_times(std::string_view text, const ReferenceTime& ref) {
  // Rules run on a lower-cased copy with every whitespace run collapsed to one space: std::regex
  // recurses once per character a quantifier consumes, and "at" + 100 KB of spaces must not
  // overflow the stack. `origin[k]` is the original offset of collapsed byte k.
  std::string lower;
  std::vector<std::uint32_t> origin;
  lower.reserve(text.size());
  origin.reserve(text.size() + 1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (space && !lower.empty() && lower.back() == ' ') continue;
    lower.push_back(space ? ' ' : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
    origin.push_back(static_cast<std::uint32_t>(i));
  }
  auto to_original = [&](ByteSpan s) { return ByteSpan{origin[s.begin], s.end == 0 ? 0 : origin[s.end - 1] + 1}; };
  std::vector<Part> parts;
  collect(lower, ref, parts);
  // Longest first wins overlaps; then left to right.
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
    return (a.span.end - a.span.begin) > (b.span.end - b.span.begin);
  });
  std::vector<Part> kept;
  for (const Part& p : parts) {
    bool overlaps = std::any_of(kept.begin(), kept.end(),
                                [&](const Part& k) { return p.span.begin < k.span.end && k.span.begin < p.span.end; });
    if (!overlaps) kept.push_back(p);
  }
  std::sort(kept.begin(), kept.end(), [](const Part& a, const Part& b) { return a.span.begin < b.span.begin; });
  // Merge a date part and a time part separated only by glue words.
  std::vector<Part> merged;
  for (const Part& p : kept) {
    if (!merged.empty()) {
      Part& last = merged.back();
      bool complementary =
          (last.date && !last.time && p.time && !p.date) || (last.time && !last.date && p.date && !p.time);
      if (complementary && glue_only(std::string_view(lower).substr(last.span.end, p.span.begin - last.span.end))) {
        if (!last.date) last.date = p.date;
        if (!last.time) last.time = p.time;
        last.span.end = p.span.end;
        continue;
      }
    }
    merged.push_back(p);
  }
  std::vector<DateTimeMatch> out;
  for (const Part& p : merged) {
    DateTimeMatch m;
    m.span = to_original(p.span);
    if (p.date && p.time) {
      m.value = format_date(*p.date) + "T" + format_time(p.time->first, p.time->second);
    } else if (p.date) {
      m.value = format_date(*p.date);
    } else {
      m.value = format_time(p.time->first, p.time->second);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<std::string> parse_date_time(std::string_view text, const ReferenceTime& ref) {
  auto found = find_date_times(text, ref);
  if (found.empty()) return std::nullopt;
  return found.front().value;
}

}  // namespace parley::nlu
