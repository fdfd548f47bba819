// When the user's speech over the bot's reply stops it (barge-in), and when it does not: a
// backchannel ("mhm", "uh-huh", "yeah"), a filler or a short noise must not interrupt; real speech
// must. Exists as a pure rule so it is documented (services/dialog/README.md) and tested apart
// from the session. Depends on nothing but the standard library.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace parley::dialog::voice {

/// Speech that started while the bot was responding interrupts it when BOTH hold:
///  - the VAD has heard at least `min_speech` of it (from the recognizer's START_OF_SPEECH to the
///    newest audio, or to END_OF_SPEECH), so coughs, clicks and short noises never do; and
///  - the recognizer's text of it (partial or final) has at least `min_words` words that are not
///    backchannels or fillers (is_backchannel), so "mhm", "uh-huh", "yeah", "okay" never do, and
///    noise the recognizer hears no words in never does.
/// An utterance that started over the bot and did not interrupt it is not taken as a turn
/// either (its `final` event says ignored, with the reason).
struct BargeInRule {
  std::chrono::milliseconds min_speech{400};
  int min_words = 1;
};

/// The words of a transcript: lower-cased, split on anything but letters, digits and
/// apostrophes ("Uh-huh." -> "uh", "huh").
std::vector<std::string> words_of(std::string_view transcript);

/// Acknowledgements and fillers that do not take the floor: mhm, mm, hmm, uh, huh, um, yeah,
/// yes, yep, ok, okay, right, sure, aha, oh, ah, alright, i, see, got, it (as in "I see", "got
/// it"), ... (the list is in barge_in.cc).
bool is_backchannel(std::string_view word);

/// Words of `transcript` that are not backchannels.
int content_words(std::string_view transcript);

/// Why speech over the bot did not interrupt it ("" when it does): "too_short", "backchannel",
/// "no_words".
std::string barge_in_refusal(const BargeInRule& rule, std::chrono::milliseconds speech, std::string_view transcript);

inline bool interrupts(const BargeInRule& rule, std::chrono::milliseconds speech, std::string_view transcript) {
  return barge_in_refusal(rule, speech, transcript).empty();
}

}  // namespace parley::dialog::voice
