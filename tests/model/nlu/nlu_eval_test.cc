// Runs parley-nlu-eval (what tools/eval/nlu runs) on SNIPS and ATIS dev and asserts accuracy floors (set a little
// below the figures in services/nlu/README.md, so a regression fails). Skips with a message when
// the JointBERT data (../shared/testdata/nlu) or the encoder model is absent.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "shared/common/model_paths.h"

namespace {

std::string encoder_dir() {
  if (const char* e = std::getenv("PARLEY_ENCODER_DIR"); e != nullptr && *e != '\0') return e;
  return parley::default_encoder_dir();
}

struct Figures {
  double intent = -1, slot_f1 = -1, oos = -1, train_seconds = -1;
  std::string output;
};

Figures run(const std::string& dataset) {
  Figures f;
  std::string cmd = std::string(PARLEY_BINARY_DIR) + "/services/nlu/eval/parley-nlu-eval --dataset " + dataset +
                    " --encoder-dir '" + encoder_dir() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return f;
  char buf[4096];
  while (fgets(buf, sizeof(buf), p) != nullptr) f.output += buf;
  int rc = pclose(p);
  if (rc != 0) return f;
  std::smatch m;
  auto num = [&](const std::string& key) {
    std::regex re("\"" + key + "\":([0-9.]+)");
    return std::regex_search(f.output, m, re) ? std::stod(m[1]) : -1.0;
  };
  f.intent = num("intent_accuracy");
  f.slot_f1 = num("slot_f1");
  f.oos = num("out_of_scope_rate");
  f.train_seconds = num("train_seconds");
  return f;
}

void skip_if_absent(const std::string& dataset) {
  std::string data = std::string(PARLEY_TESTDATA) + "/nlu/" + dataset + "/train/seq.in";
  if (!std::filesystem::exists(data)) GTEST_SKIP() << "JointBERT data not found: " << data;
  if (!std::filesystem::exists(encoder_dir() + "/model.safetensors")) {
    GTEST_SKIP() << "encoder model not found in " << encoder_dir()
                 << " (run tools/models/fetch or set PARLEY_ENCODER_DIR)";
  }
}

TEST(NluEval, SnipsDevAboveFloors) {
  skip_if_absent("snips");
  Figures f = run("snips");
  ASSERT_GE(f.intent, 0) << f.output;
  // Measured: intent 98.57%, slot F1 91.89% (services/nlu/README.md; 92.37% with the previous
  // encoder numerics: a floor below both).
  EXPECT_GE(f.intent, 0.975) << f.output;
  EXPECT_GE(f.slot_f1, 0.905) << f.output;
  EXPECT_LE(f.oos, 0.01) << "in-domain dev texts flagged out of scope\n" << f.output;
  std::printf("%s", f.output.c_str());
}

TEST(NluEval, AtisDevAboveFloors) {
  skip_if_absent("atis");
  Figures f = run("atis");
  ASSERT_GE(f.intent, 0) << f.output;
  // Measured: intent 97.20%, slot F1 93.75% (97.40% / 94.33% with the previous encoder numerics).
  EXPECT_GE(f.intent, 0.96) << f.output;
  EXPECT_GE(f.slot_f1, 0.93) << f.output;
  std::printf("%s", f.output.c_str());
}

}  // namespace
