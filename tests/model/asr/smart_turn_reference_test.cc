// Model test (label `model`): shared/models/smart_turn (pipecat's smart-turn v3.2, int8 QDQ ONNX
// on shared/onnx) against ONNX Runtime on the same file (tools/reference/smart_turn_reference.py,
// venv refenv-asr), on the shared speech clips: whole turns and turns cut at their pauses, each
// followed by a little silence. Checks: our 80 x 800 features against the reference's (float64,
// computed independently); our probabilities on the reference's features against ONNX Runtime
// with no graph optimization (the QDQ arithmetic exactly as written, which we run) and with all of
// them (what pipecat runs: integer kernels, rounding differently); the end-of-turn decision.
// A QDQ graph rounds every activation to 8 bits, so features that differ in the 5th decimal move
// its output by whole quantization steps: the reference also reports the range ONNX Runtime's own
// probability spans over 16 draws of 1e-5 noise on the features, and ours must fall in it.
// Depends on shared/models/smart_turn, shared/audio, the fetched model, the reference venv.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "shared/audio/wav.h"
#include "shared/common/json_document.h"
#include "shared/models/smart_turn/smart_turn.h"
#include "tests/model/asr/asr_support.h"

namespace parley::smart_turn {
namespace {

const std::string kSpeech = std::string(PARLEY_TESTDATA) + "/speech";

struct Case {
  std::string clip;
  double end_s;  // 0 = the whole clip
  double pad_s;  // silence after it
  std::string arg() const { return kSpeech + "/" + clip + ".wav:" + std::to_string(end_s) + ":" + std::to_string(pad_s); }
};

// Whole turns with 0.3 s of silence, and turns cut at a pause inside them (jfk: after
// "Americans", "ask not", "for you"; librivox 0890 after "cold hearted"; digits mid-number).
std::vector<Case> cases() {
  std::vector<Case> c;
  for (const auto& name : asr_testing::speech_clips()) c.push_back({name, 0.0, 0.3});
  c.push_back({"jfk", 2.3, 0.2});
  c.push_back({"jfk", 4.5, 0.2});
  c.push_back({"jfk", 7.7, 0.2});
  c.push_back({"jfk", 10.6, 0.6});
  c.push_back({"librivox_sense_and_sensibility_01-0890", 2.6, 0.25});
  c.push_back({"digits_10001-90210-01803", 4.0, 0.25});
  return c;
}

std::vector<float> case_audio(const Case& c) {
  auto wav = audio::read_wav_file(kSpeech + "/" + c.clip + ".wav");
  EXPECT_TRUE(wav.ok()) << wav.status().to_string();
  if (!wav.ok()) return {};
  std::vector<float> a = wav->mono();
  if (c.end_s > 0) a.resize(std::min(a.size(), static_cast<std::size_t>(std::lround(c.end_s * kSampleRate))));
  a.resize(a.size() + static_cast<std::size_t>(std::lround(c.pad_s * kSampleRate)), 0.0f);
  return a;
}

TEST(SmartTurnReference, MatchesOnnxRuntime) {
  const std::string model_path = asr_testing::smart_turn_path();
  if (!std::filesystem::exists(model_path)) GTEST_SKIP() << "smart-turn model absent (run tools/models/fetch --for tests)";
  if (!std::filesystem::exists(kSpeech)) GTEST_SKIP() << "no shared testdata at " << kSpeech;
  const std::string py = asr_testing::reference_python();
  if (py.empty()) GTEST_SKIP() << "reference venv refenv-asr absent (run tools/reference/setup asr)";
  auto st = SmartTurn::load(model_path);
  ASSERT_TRUE(st.ok()) << st.status().to_string();

  const auto cs = cases();
  const std::string out = (std::filesystem::temp_directory_path() / ("parley_smart_turn_ref_" + std::to_string(::getpid()))).string();
  std::string args = "'" + model_path + "' '" + out + "'";
  for (const auto& c : cs) args += " '" + c.arg() + "'";
  auto r = asr_testing::run_reference_script(py, "smart_turn_reference.py", args);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::vector<double> p_ort, p_noopt, lo_ort, hi_ort, lo_noopt, hi_noopt;
  std::stringstream lines(*r);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    auto doc = json::parse(line);
    ASSERT_TRUE(doc.ok()) << line;
    p_ort.push_back(doc->find("p_ort")->as_double());
    p_noopt.push_back(doc->find("p_ort_noopt")->as_double());
    lo_ort.push_back(doc->find("lo_ort")->as_double());
    hi_ort.push_back(doc->find("hi_ort")->as_double());
    lo_noopt.push_back(doc->find("lo_noopt")->as_double());
    hi_noopt.push_back(doc->find("hi_noopt")->as_double());
  }
  ASSERT_EQ(p_ort.size(), cs.size()) << *r;

  whisper::LogMel mel(kMels);
  double feat_max = 0, d_noopt_max = 0, d_noopt_sum = 0, d_ort_max = 0, d_ort_sum = 0, d_e2e_max = 0;
  int agree_ort = 0, agree_noopt = 0, in_noopt = 0, in_ort = 0;
  constexpr double kSlack = 0.02;  // beyond the range spanned by the reference's own noise draws
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const std::vector<float> a = case_audio(cs[i]);
    auto ours = features(a, mel);
    ASSERT_TRUE(ours.ok()) << ours.status().to_string();
    std::vector<float> ref(static_cast<std::size_t>(kMels) * kFrames);
    std::ifstream f(out + "/" + std::to_string(i) + ".feat.f32", std::ios::binary);
    ASSERT_TRUE(f.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * sizeof(float))));
    double fd = 0;
    for (std::size_t k = 0; k < ref.size(); ++k) fd = std::max(fd, static_cast<double>(std::fabs(ref[k] - (*ours)[k])));
    feat_max = std::max(feat_max, fd);
    // The model alone, on the reference's features.
    auto p_model = (*st)->predict_features(ref, 1);
    ASSERT_TRUE(p_model.ok()) << p_model.status().to_string();
    // End to end: our features, our model.
    auto p = (*st)->predict(a);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    const double dn = std::fabs((*p_model)[0] - p_noopt[i]), dort = std::fabs((*p_model)[0] - p_ort[i]);
    d_noopt_max = std::max(d_noopt_max, dn);
    d_noopt_sum += dn;
    d_ort_max = std::max(d_ort_max, dort);
    d_ort_sum += dort;
    d_e2e_max = std::max(d_e2e_max, std::fabs(*p - p_ort[i]));
    agree_noopt += ((*p_model)[0] >= 0.5f) == (p_noopt[i] >= 0.5);
    const bool within_noopt = (*p_model)[0] >= lo_noopt[i] - kSlack && (*p_model)[0] <= hi_noopt[i] + kSlack;
    const bool within_ort = *p >= lo_ort[i] - kSlack && *p <= hi_ort[i] + kSlack;
    in_noopt += within_noopt;
    in_ort += within_ort;
    EXPECT_TRUE(within_noopt) << cs[i].arg() << ": " << (*p_model)[0] << " outside ONNX Runtime's [" << lo_noopt[i] << ", " << hi_noopt[i] << "]";
    agree_ort += (*p >= 0.5f) == (p_ort[i] >= 0.5);
    std::printf("%-40s end %5.2f pad %.2f: parley %.3f (ref features %.3f)  ORT %.3f [%.3f, %.3f]  no-opt %.3f [%.3f, %.3f]  "
                "features max|d| %.0e\n",
                cs[i].clip.c_str(), cs[i].end_s, cs[i].pad_s, *p, (*p_model)[0], p_ort[i], lo_ort[i], hi_ort[i], p_noopt[i], lo_noopt[i],
                hi_noopt[i], fd);
  }
  std::filesystem::remove_all(out);
  const double n = static_cast<double>(cs.size());
  std::printf("smart-turn vs ONNX Runtime, %zu cases: features max |d| %.2e; model on the same features: vs no-opt ORT mean |d| %.4f "
              "max %.4f, vs optimized ORT mean %.4f max %.4f; end to end max |d| %.4f; decisions (p >= 0.5) agree %d/%zu (no-opt), "
              "%d/%zu end to end vs optimized ORT; inside ORT's noise range: %d/%zu (no-opt, same features), %d/%zu (optimized, end to end)\n",
              cs.size(), feat_max, d_noopt_sum / n, d_noopt_max, d_ort_sum / n, d_ort_max, d_e2e_max, agree_noopt, cs.size(), agree_ort,
              cs.size(), in_noopt, cs.size(), in_ort, cs.size());
  EXPECT_LT(feat_max, 1e-4);
  EXPECT_LT(d_noopt_sum / n, 0.03);
  EXPECT_EQ(agree_noopt, static_cast<int>(cs.size()));
  EXPECT_GE(agree_ort, static_cast<int>(cs.size()) - 1);
  EXPECT_GE(in_ort, static_cast<int>(cs.size()) - 2);  // integer kernels round differently from float QDQ
}

// Not an assertion (timing on a shared machine): how long one decision costs, features included.
TEST(SmartTurnReference, PrintsTheCostOfOneDecision) {
  const std::string model_path = asr_testing::smart_turn_path();
  if (!std::filesystem::exists(model_path)) GTEST_SKIP() << "smart-turn model absent (run tools/models/fetch --for tests)";
  if (!std::filesystem::exists(kSpeech)) GTEST_SKIP() << "no shared testdata at " << kSpeech;
  auto st = SmartTurn::load(model_path);
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  const std::vector<float> a = case_audio({"jfk", 0.0, 0.3});
  whisper::LogMel mel(kMels);
  ASSERT_TRUE((*st)->predict(a).ok());  // warm the session pool
  using Clock = std::chrono::steady_clock;
  double feat_s = 0, total_s = 0;
  constexpr int kRuns = 5;
  for (int i = 0; i < kRuns; ++i) {
    auto t0 = Clock::now();
    ASSERT_TRUE(features(a, mel).ok());
    auto t1 = Clock::now();
    ASSERT_TRUE((*st)->predict(a).ok());
    auto t2 = Clock::now();
    feat_s += std::chrono::duration<double>(t1 - t0).count();
    total_s += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf("smart-turn decision: %.1f ms (log-mel features %.1f ms), mean of %d\n", 1000 * total_s / kRuns, 1000 * feat_s / kRuns, kRuns);
  // Where the graph's time goes (per op type), for the README.
  auto model = onnx::Model::load(model_path);
  ASSERT_TRUE(model.ok());
  onnx::SessionOptions so;
  so.profile = true;
  onnx::Session s(*model, so);
  auto x = onnx::Tensor::host(onnx::DataType::kFloat, {1, kMels, kFrames});
  ASSERT_TRUE(x.ok());
  auto f = features(a, mel);
  ASSERT_TRUE(f.ok());
  std::copy(f->begin(), f->end(), x->data<float>());
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(s.run({{"input_features", *x}}).ok());
  for (const auto& p : s.profile()) {
    std::printf("  %-34s %4lld calls/run %7.2f ms/run\n", p.op_type.c_str(), static_cast<long long>(p.calls / kRuns), 1000 * p.seconds / kRuns);
  }
}

TEST(SmartTurnReference, BadInput) {
  const std::string model_path = asr_testing::smart_turn_path();
  if (!std::filesystem::exists(model_path)) GTEST_SKIP() << "smart-turn model absent (run tools/models/fetch --for tests)";
  auto st = SmartTurn::load(model_path);
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_NE((*st)->predict(std::span<const float>()).status().message().find("no audio"), std::string::npos);
  EXPECT_NE((*st)->predict_features(std::vector<float>(10), 1).status().message().find("feature values"), std::string::npos);
  // A graph that is not smart-turn is refused at load, naming the file.
  auto vad = SmartTurn::load(std::string(PARLEY_TESTDATA) + "/models/silero_vad/silero_vad.onnx");
  ASSERT_FALSE(vad.ok());
  EXPECT_NE(vad.status().message().find("not a smart-turn v3 model"), std::string::npos) << vad.status().to_string();
}

}  // namespace
}  // namespace parley::smart_turn
