// English text normalisation for speech: numbers, dates, times, currencies, percentages,
// ordinals, units after numbers, common abbreviations and symbols become words.
// Why: espeak-ng reads "19:30" as "nineteen thirty" at best and "2026-12-05" as three numbers;
// "Your table for 4 at 19:30 on 2026-12-05 costs €20" must be spoken the way a person says it.
// Depends on number_words.h.
#pragma once

#include <string>
#include <string_view>

namespace parley::tts {

/// Rules (first match wins at each position):
///   2026-12-05         -> "December fifth, twenty twenty-six"   (ISO date, validated)
///   12/05/2026         -> "December fifth, twenty twenty-six"   (US month/day/year)
///   19:30, 7:05 pm     -> "seven thirty PM", "seven oh five PM"  (24 h times get AM/PM)
///   €20, $5.50, 20 EUR -> "twenty euros", "five dollars and fifty cents", "twenty euros"
///   50%                -> "fifty percent"
///   1st, 22nd          -> "first", "twenty-second"
///   1,234 / 3.14 / -5  -> "one thousand two hundred thirty-four" / "three point one four" / "minus five"
///   1999, 2026         -> years when 1100..2099 and standing alone ("twenty twenty-six")
///   5 km, 3 kg         -> "five kilometers", "three kilograms"
///   Dr. Mr. Mrs. St. e.g. etc. vs. No. 5 ... -> "Doctor", "Mister", ...;  & @ + = # °  -> words
/// Everything else is copied unchanged (espeak-ng reads words itself).
std::string normalize_for_speech(std::string_view text);

}  // namespace parley::tts
