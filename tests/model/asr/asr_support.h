// Helpers shared by the ASR model test and benchmark: where the Whisper model, the VAD and the
// reference venv are, running tools/reference/asr_reference.py, and word error rate with a
// small normalizer (case, punctuation, hyphens, number words vs digits).
// Why: both need the same look-ups, skip messages and scoring. Depends on shared/common.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "shared/common/model_paths.h"
#include "shared/common/status.h"

namespace parley::asr_testing {

/// PARLEY_WHISPER_DIR, else <model root>/<PARLEY_WHISPER_MODEL> (a manifest name: whisper-base),
/// else <model root>/whisper-tiny-en.
inline std::string whisper_dir() {
  if (const char* d = std::getenv("PARLEY_WHISPER_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* m = std::getenv("PARLEY_WHISPER_MODEL"); m != nullptr && *m != '\0') return model_root() + "/" + m;
  return model_root() + "/whisper-tiny-en";
}
inline bool whisper_present(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::exists(dir + "/model.bin", ec) && std::filesystem::exists(dir + "/vocabulary.txt", ec);
}

/// The asr venv's python ($PARLEY_REFENV_DIR or ~/.cache/parley, then refenv-asr), or "".
inline std::string reference_python() {
  std::string root;
  if (const char* r = std::getenv("PARLEY_REFENV_DIR"); r != nullptr && *r != '\0') {
    root = r;
  } else {
    const char* home = std::getenv("HOME");
    root = std::string(home != nullptr ? home : ".") + "/.cache/parley";
  }
  const std::string py = root + "/refenv-asr/bin/python";
  std::error_code ec;
  return std::filesystem::exists(py, ec) ? py : "";
}

inline std::string source_dir() {
  if (const char* s = std::getenv("PARLEY_SOURCE_DIR"); s != nullptr && *s != '\0') return s;
#ifdef PARLEY_SOURCE_DIR
  return PARLEY_SOURCE_DIR;
#else
  return ".";
#endif
}

/// Runs `python tools/reference/<script> <args>`; stdout (JSON lines) or the error.
inline Result<std::string> run_reference_script(const std::string& python, const std::string& script, const std::string& args) {
  const std::string cmd = "'" + python + "' '" + source_dir() + "/tools/reference/" + script + "' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return unavailable("cannot start: " + cmd);
  std::string out;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) return internal_error("reference failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  return out;
}

/// Runs `python tools/reference/asr_reference.py <args>`.
inline Result<std::string> run_reference(const std::string& python, const std::string& args) {
  return run_reference_script(python, "asr_reference.py", args);
}

/// The smart-turn model (<model root>/turn-smart-turn/smart-turn-v3.2-cpu.onnx).
inline std::string smart_turn_path() { return model_root() + "/turn-smart-turn/smart-turn-v3.2-cpu.onnx"; }

/// The shared speech clips (name without .wav) in a fixed order.
inline std::vector<std::string> speech_clips() {
  return {"jfk", "goforward", "digits_10001-90210-01803", "librivox_sense_and_sensibility_01-0890",
          "librivox_sense_and_sensibility_01-0920", "librivox_sense_and_sensibility_01-0930", "cards_001", "cards_005"};
}

/// Words for WER: lower case, hyphens split words, other punctuation dropped, number words
/// turned into digits, and runs of digit-only words joined ("nine oh two" == "902" == "9 0 2"),
/// so that "ten of clubs" == "10 of clubs." and "one zero zero zero one" == "1,0001".
inline std::vector<std::string> normalize_words(const std::string& text) {
  static const std::map<std::string, std::string> kNumbers = {
      {"zero", "0"}, {"oh", "0"}, {"one", "1"}, {"two", "2"}, {"three", "3"}, {"four", "4"}, {"five", "5"},
      {"six", "6"}, {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"}, {"eleven", "11"}, {"twelve", "12"}};
  std::string clean;
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || u == '\'' || u >= 0x80) {
      clean += static_cast<char>(std::tolower(u));
    } else if (ch == ',' || ch == '.') {
      // "1,0001" keeps its digits together; a sentence comma or period just ends the word.
      clean += ch;
    } else {
      clean += ' ';
    }
  }
  std::vector<std::string> words;
  std::stringstream ss(clean);
  std::string w;
  auto digits = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
  while (ss >> w) {
    std::string t;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const bool between_digits = i > 0 && i + 1 < w.size() && std::isdigit(static_cast<unsigned char>(w[i - 1])) &&
                                  std::isdigit(static_cast<unsigned char>(w[i + 1]));
      if ((w[i] == ',' || w[i] == '.') && !between_digits) continue;
      if (w[i] == ',') continue;  // thousands separator
      t += w[i];
    }
    if (t.empty()) continue;
    if (auto it = kNumbers.find(t); it != kNumbers.end()) t = it->second;
    if (digits(t) && !words.empty() && digits(words.back())) {
      words.back() += t;
    } else {
      words.push_back(t);
    }
  }
  return words;
}

/// Word errors (substitutions + deletions + insertions) of `hyp` against `ref`, and ref length.
inline std::pair<int, int> word_errors(const std::string& ref, const std::string& hyp) {
  const auto r = normalize_words(ref), h = normalize_words(hyp);
  std::vector<int> prev(h.size() + 1), cur(h.size() + 1);
  for (std::size_t j = 0; j <= h.size(); ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= r.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= h.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return {prev[h.size()], static_cast<int>(r.size())};
}

}  // namespace parley::asr_testing
