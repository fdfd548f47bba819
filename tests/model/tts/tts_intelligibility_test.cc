// Intelligibility (label model): parley-tts speaks a fixed set of sentences (numbers, dates,
// names, questions) and an ASR transcribes them; the word error rate against the normalised
// text must stay under a floor. The transcriber today is faster-whisper with Whisper tiny.en
// (venv tts, tools/reference) because the ASR engine is on another branch; once it lands, the
// lead swaps `transcribe` below for the ASR engine (same WAV files in, texts out).
// Depends on services/tts, the voice, parley-phonemize, refenv-tts, shared/audio (WAV).
#include <gtest/gtest.h>

#include <cctype>
#include <sstream>

#include "services/tts/text_normalizer.h"
#include "shared/audio/wav.h"
#include "tests/model/tts/tts_test_support.h"

namespace parley::tts {
namespace {

const std::vector<std::string> kSentences = {
    "Your table for 4 at 19:30 on 2026-12-05 costs €20.",
    "Good morning, Mr. Johnson, how can I help you today?",
    "The museum opens at 9 am and closes at 5 pm.",
    "Would you like a room with a view of the sea?",
    "Please call Sarah at extension 42.",
    "Your flight to Paris leaves from gate 12 at 6:45 pm.",
    "We have 3 rooms left for the 21st of March.",
    "Is breakfast included in the price?",
};

// Words for scoring: the normaliser's spoken form (so "4" and "four" agree), lower case,
// hyphens split, punctuation dropped.
std::vector<std::string> words(const std::string& text) {
  std::string t = normalize_for_speech(text);
  for (char& c : t) {
    if (c == '-') c = ' ';
    else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '\'' && c != ' ') c = ' ';
    else c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<std::string> out;
  std::stringstream ss(t);
  for (std::string w; ss >> w;) out.push_back(w);
  return out;
}

std::size_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

TEST(TtsIntelligibility, WhisperUnderstandsTheVoice) {
  if (!testing::voice_present()) GTEST_SKIP() << "voice absent: " << testing::voice_path() << " (tools/models/fetch --for tests)";
  const std::string py = testing::reference_python();
  if (py.empty()) GTEST_SKIP() << "reference venv refenv-tts absent (run tools/reference/setup tts)";
  auto svc = TtsService::create(testing::default_options(), nullptr);
  ASSERT_TRUE(svc.ok()) << svc.status().to_string();
  const std::string dir = ::testing::TempDir() + "/tts_intel_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::string files;
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    v1::SynthesizeRequest r;
    r.set_text(kSentences[i]);
    r.set_sample_rate_hz(16000);
    testing::TestContext ctx;
    testing::Collect out;
    ASSERT_TRUE((*svc)->synthesize(r, out, ctx).is_ok());
    const std::string wav = dir + "/s" + std::to_string(i) + ".wav";
    ASSERT_TRUE(audio::write_wav_file(wav, out.audio(), 16000).is_ok());
    files += " '" + wav + "'";
  }
  auto ref = testing::run_reference(py, "transcribe" + files);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  const json::Value* texts = ref->find("texts");
  ASSERT_TRUE(texts && texts->is_array() && texts->as_array().size() == kSentences.size());
  std::size_t errors = 0, total = 0;
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    const std::string hyp = texts->as_array()[i].as_string();
    const auto ref_words = words(kSentences[i]);
    const std::size_t e = edit_distance(ref_words, words(hyp));
    std::printf("  [%zu] %2zu/%2zu  %s\n       -> %s\n", i, e, ref_words.size(), kSentences[i].c_str(), hyp.c_str());
    errors += e;
    total += ref_words.size();
  }
  const double wer = static_cast<double>(errors) / static_cast<double>(total);
  std::printf("intelligibility: WER %.1f%% (%zu errors / %zu words, Whisper tiny.en)\n", 100 * wer, errors, total);
  EXPECT_LE(wer, 0.20) << "the floor: Whisper tiny.en understands at least 80% of the words";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::tts
