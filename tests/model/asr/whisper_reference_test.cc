// Model test (label `model`): shared/models/whisper on Whisper tiny.en (and, as
// whisper_base_reference_test, the multilingual Whisper base: PARLEY_WHISPER_MODEL) against faster-whisper /
// CTranslate2 4.x running the same model.bin (greedy, timestamps, beam 1), on the 8 shared speech
// clips: log-mel window within 1e-5 of faster-whisper's; FP32 greedy text identical to
// CTranslate2 float32 on every clip; INT8 (the default) text identical to CTranslate2 int8 on at
// least 6 of 8 clips; WER against the human transcripts under the floors below.
// Depends on shared/models/whisper, shared/audio, tools/reference/asr_reference.py (refenv-asr).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "shared/audio/wav.h"
#include "shared/common/json_document.h"
#include "shared/models/whisper/decoding.h"
#include "shared/models/whisper/mel.h"
#include "tests/model/asr/asr_support.h"

namespace parley::whisper {
namespace {

using asr_testing::speech_clips;

struct RefClip {
  std::vector<int> tokens;
  std::string text;
  double no_speech_prob = 0;
};

const std::string kSpeech = std::string(PARLEY_TESTDATA) + "/speech";

class WhisperReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = asr_testing::whisper_dir();
    if (!asr_testing::whisper_present(dir_)) {
      skip_ = "Whisper model absent in " + dir_ + " (run tools/models/fetch --for tests)";
      return;
    }
    if (!std::filesystem::exists(kSpeech)) {
      skip_ = "no shared testdata at " + kSpeech;
      return;
    }
    const std::string py = asr_testing::reference_python();
    if (py.empty()) {
      skip_ = "reference venv refenv-asr absent (run tools/reference/setup asr)";
      return;
    }
    out_ = (std::filesystem::temp_directory_path() / ("parley_asr_ref_" + std::to_string(::getpid()))).string();
    std::string args = "reference '" + dir_ + "' '" + out_ + "'";
    for (const auto& c : speech_clips()) args += " '" + kSpeech + "/" + c + ".wav'";
    auto r = asr_testing::run_reference(py, args);
    if (!r.ok()) {
      error_ = r.status().message();
      return;
    }
    std::stringstream lines(*r);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] != '{') continue;  // library warnings
      auto doc = json::parse(line);
      if (!doc.ok()) {
        error_ = "bad reference line: " + line;
        return;
      }
      RefClip c;
      for (const json::Value& v : doc->find("tokens")->as_array()) c.tokens.push_back(static_cast<int>(*v.as_int()));
      c.text = doc->find("text")->as_string();
      c.no_speech_prob = doc->find("no_speech_prob")->as_double();
      refs_[doc->find("compute_type")->as_string()][doc->find("clip")->as_string()] = c;
    }
  }
  static void TearDownTestSuite() {
    if (!out_.empty()) std::filesystem::remove_all(out_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
  }

  static std::vector<float> audio(const std::string& clip) {
    auto wav = audio::read_wav_file(kSpeech + "/" + clip + ".wav");
    EXPECT_TRUE(wav.ok()) << wav.status().to_string();
    return wav.ok() ? wav->mono() : std::vector<float>{};
  }

  // Our greedy result on every clip, one batch of 8 windows (batched encoder and decoder), in
  // the decoder language `language` (a language token; -1: English).
  static std::map<std::string, WindowResult> run(WhisperPrecision precision, const std::vector<std::string>& clips = speech_clips(),
                                                 int language = -1) {
    WhisperLoadOptions o;
    o.precision = precision;
    auto model = WhisperModel::load(dir_, o);
    EXPECT_TRUE(model.ok()) << model.status().to_string();
    std::map<std::string, WindowResult> out;
    if (!model.ok()) return out;
    LogMel mel((*model)->config().n_mels);
    std::vector<std::vector<float>> wins;
    for (const auto& c : clips) {
      auto w = mel.window(audio(c));
      EXPECT_TRUE(w.ok());
      wins.push_back(w.ok() ? *w : std::vector<float>{});
    }
    std::vector<std::span<const float>> spans(wins.begin(), wins.end());
    WhisperRunner runner(*model);
    Status s = runner.encode(spans);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    DecodeOptions d;
    d.languages.assign(wins.size(), language);
    auto res = greedy_decode(runner, static_cast<int>(wins.size()), d);
    EXPECT_TRUE(res.ok()) << res.status().to_string();
    if (!res.ok()) return out;
    for (std::size_t i = 0; i < wins.size(); ++i) out[clips[i]] = (*res)[i];
    return out;
  }

  static std::string dir_, skip_, error_, out_;
  static std::map<std::string, std::map<std::string, RefClip>> refs_;  // compute type -> clip
};
std::string WhisperReferenceTest::dir_, WhisperReferenceTest::skip_, WhisperReferenceTest::error_, WhisperReferenceTest::out_;
std::map<std::string, std::map<std::string, RefClip>> WhisperReferenceTest::refs_;

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int t : v) s += std::to_string(t) + " ";
  return s;
}

TEST_F(WhisperReferenceTest, MelMatchesFasterWhisper) {
  LogMel mel(80);
  for (const auto& c : speech_clips()) {
    auto ours = mel.window(audio(c));
    ASSERT_TRUE(ours.ok()) << ours.status().to_string();
    std::ifstream in(out_ + "/" + c + ".mel.f32", std::ios::binary);
    std::vector<float> ref(ours->size());
    in.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * 4));
    ASSERT_TRUE(in) << "reference mel of " << c;
    double worst = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>((*ours)[i]) - ref[i]));
    std::printf("mel %-40s max |ours - faster-whisper| = %.2e\n", c.c_str(), worst);
    EXPECT_LT(worst, 1e-5) << c;
  }
}

TEST_F(WhisperReferenceTest, Fp32GreedyTextMatchesCTranslate2) {
  auto ours = run(WhisperPrecision::kFp32);
  int same_tokens = 0;
  for (const auto& c : speech_clips()) {
    const RefClip& ref = refs_["float32"][c];
    const WindowResult& r = ours[c];
    std::printf("fp32 %-40s ours: %s\n     %-40s ct2:  %s\n", c.c_str(), r.text.c_str(), "", ref.text.c_str());
    EXPECT_EQ(r.text, ref.text) << c << "\nours " << join(r.tokens) << "\nct2  " << join(ref.tokens);
    EXPECT_NEAR(r.no_speech_prob, ref.no_speech_prob, 0.02) << c;
    same_tokens += r.tokens == ref.tokens;
  }
  std::printf("fp32: identical token sequences (timestamps included) on %d/8 clips\n", same_tokens);
}

TEST_F(WhisperReferenceTest, Int8TranscriptsAndWerFloors) {
  auto ours = run(WhisperPrecision::kInt8);
  int same_text = 0, errors = 0, words = 0, ref_errors = 0;
  for (const auto& c : speech_clips()) {
    const RefClip& ref = refs_["int8"][c];
    const WindowResult& r = ours[c];
    std::ifstream in(kSpeech + "/" + c + ".txt");
    std::string truth;
    std::getline(in, truth);
    const auto [e, n] = asr_testing::word_errors(truth, r.text);
    const auto [re, rn] = asr_testing::word_errors(truth, ref.text);
    errors += e;
    words += n;
    ref_errors += re;
    same_text += r.text == ref.text;
    std::printf("int8 %-40s WER %5.1f%% (ct2 int8 %5.1f%%)  ours: %s | ct2: %s\n", c.c_str(), 100.0 * e / n, 100.0 * re / rn,
                r.text.c_str(), ref.text.c_str());
  }
  const double wer = 100.0 * errors / words, ref_wer = 100.0 * ref_errors / words;
  std::printf("int8: WER %.1f%% over %d words (faster-whisper int8: %.1f%%); same text as ct2 int8 on %d/8 clips\n", wer, words,
              ref_wer, same_text);
  // INT8 differs from CTranslate2's INT8 (different quantizers): near-ties can flip a sub-word
  // (measured: 6-7 of 8 clips identical, the rest one token apart at equal WER).
  EXPECT_GE(same_text, 6);
  // Floor: measured 7.5% ("old-sposed" for "ill-disposed", "coldhearted", "close" for "clubs" and the
  // reader's "a more a amiable"). CTranslate2's own INT8 WER depends on the CPU it runs on (its
  // GEMM backend picks other kernels): 7.5% on an AMD EPYC, 2.5% on an Intel Xeon with AMX
  // (2026-12-05), on the same 80 words, so it is printed, not used as a bound; the
  // identical-text floor above is the comparison that holds on both.
  EXPECT_LE(wer, 10.0);
}

// Multilingual models (whisper-base): a config's language (WhisperTokenizer::language_token: "de",
// "pt-BR") goes into the decoder prompt as CTranslate2 puts it for faster-whisper, and decoding
// two English clips "in German" gives CTranslate2's text. English-only models: the prompt ignores
// the language.
TEST_F(WhisperReferenceTest, DecoderLanguageMatchesCTranslate2) {
  WhisperLoadOptions o;
  o.precision = WhisperPrecision::kFp32;
  auto model = WhisperModel::load(dir_, o);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const WhisperTokenizer& tok = (*model)->tokenizer();
  if (!(*model)->multilingual()) {  // English-only: no language in the prompt, whatever is asked
    const SpecialIds& sp = tok.special();
    EXPECT_EQ(make_prompt(**model, /*timestamps=*/true, tok.language_token("de")), std::vector<int>{sp.sot});
    EXPECT_EQ(make_prompt(**model, /*timestamps=*/false, -1), (std::vector<int>{sp.sot, sp.no_timestamps}));
    std::printf("English-only model: the prompt carries no language (whisper_base_reference_test decodes in German)\n");
    return;
  }
  const int de = tok.language_token("de");
  ASSERT_GE(de, 0);
  EXPECT_EQ(tok.token_text(de), "<|de|>");
  EXPECT_EQ(tok.language_token("DE-at"), de);
  EXPECT_EQ(tok.language_token("pt-BR"), tok.language_token("pt"));
  EXPECT_GE(tok.language_token("pt"), 0);
  EXPECT_EQ(tok.language_token("xx"), -1);
  EXPECT_EQ(tok.language_token("transcribe"), -1);
  EXPECT_EQ(tok.language_token("en"), tok.special().english);

  const std::vector<std::string> clips = {"jfk", "goforward"};
  std::string args = "reference '" + dir_ + "' '" + out_ + "/de' --language de";
  for (const auto& c : clips) args += " '" + kSpeech + "/" + c + ".wav'";
  auto r = asr_testing::run_reference(asr_testing::reference_python(), args);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::map<std::string, RefClip> ref;
  std::vector<int> ref_prompt;
  std::stringstream lines(*r);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    auto doc = json::parse(line);
    ASSERT_TRUE(doc.ok()) << line;
    if (doc->find("compute_type")->as_string() != "float32") continue;
    RefClip c;
    for (const json::Value& v : doc->find("tokens")->as_array()) c.tokens.push_back(static_cast<int>(*v.as_int()));
    c.text = doc->find("text")->as_string();
    ref[doc->find("clip")->as_string()] = c;
    ref_prompt.clear();
    for (const json::Value& v : doc->find("prompt")->as_array()) ref_prompt.push_back(static_cast<int>(*v.as_int()));
  }
  EXPECT_EQ(make_prompt(**model, /*timestamps=*/true, de), ref_prompt) << "ct2 " << join(ref_prompt);
  auto ours = run(WhisperPrecision::kFp32, clips, de);
  for (const auto& c : clips) {
    ASSERT_EQ(ref.count(c), 1u) << c;
    std::printf("language de %-12s ours: %s\n            %-12s ct2:  %s\n", c.c_str(), ours[c].text.c_str(), "", ref[c].text.c_str());
    EXPECT_EQ(ours[c].text, ref[c].text) << c << "\nours " << join(ours[c].tokens) << "\nct2  " << join(ref[c].tokens);
  }
}

}  // namespace
}  // namespace parley::whisper
