// Dates and times in English text, resolved against a reference time to ISO 8601 values:
// "tomorrow" -> 2024-05-11, "7pm" -> 19:00, "next friday at 7:30 pm" -> 2024-05-24T19:30,
// "june fourteenth" -> 2024-06-14, "in 3 days". Why: DATE_TIME slots must reach the dialog as
// values it can compare and store. Depends on numbers.h, <chrono> calendar types.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/nlu/text_checks.h"
#include "shared/common/status.h"

namespace parley::nlu {

/// A civil (local, zone-less) date and time; the dialog passes the user's local time.
struct ReferenceTime {
  int year = 2000, month = 1, day = 1;
  int hour = 0, minute = 0;
};

/// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS][...]" (anything after the minutes, e.g. a zone, is
/// ignored); "" = now in UTC. InvalidArgument naming the expected format otherwise.
Result<ReferenceTime> parse_reference_time(std::string_view text);

struct DateTimeMatch {
  ByteSpan span;
  std::string value;  ///< "2024-05-11", "19:00" or "2024-05-11T19:00"
};

/// Every date/time expression in `text` (adjacent date and time parts merge into one).
/// Semantics: "friday" / "this friday" = the next Friday on or after the reference day; "next
/// friday" = the Friday of the following week (Monday-based weeks); a month-day without a year is
/// its next occurrence on or after the reference day; "7pm" = 19:00, "7" / "at 7" = 07:00;
/// "in 3 hours" = reference time + 3 h.
std::vector<DateTimeMatch> find_date_times(std::string_view text, const ReferenceTime& ref);

/// The value of the first date/time expression in `text` (a span the tagger found), if any.
std::optional<std::string> parse_date_time(std::string_view text, const ReferenceTime& ref);

}  // namespace parley::nlu
