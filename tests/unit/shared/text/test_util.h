// Helpers for the text tests: locating models and reading llama.cpp's tokenizer test vectors.
// Exists so every tokenizer test reads the .inp/.out files and model paths the same way.
// Depends on GoogleTest only.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "shared/common/model_paths.h"
#include "shared/text/tokenizer.h"

namespace parley::text::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

inline std::string testdata(const std::string& rel) { return std::string(PARLEY_TESTDATA) + "/" + rel; }

/// One case of llama.cpp's test-tokenizer-0 vectors.
struct VocabCase {
  std::string text;
  std::vector<TokenId> ids;
};

/// Reads `<gguf>.inp` (texts separated by "\n__ggml_vocab_test__\n") and `<gguf>.out` (one line of
/// space-separated ids per text, tokenized without BOS/EOS). Empty when the files are missing.
inline std::vector<VocabCase> read_vocab_cases(const std::string& gguf_path) {
  const std::string inp = read_file(gguf_path + ".inp");
  const std::string out = read_file(gguf_path + ".out");
  std::vector<VocabCase> cases;
  if (inp.empty() || out.empty()) return cases;
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::size_t pos = 0;
  while (true) {
    const std::size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) break;
    cases.push_back({inp.substr(pos, hit - pos), {}});
    pos = hit + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  std::size_t i = 0;
  while (std::getline(lines, line) && i < cases.size()) {
    std::istringstream nums(line);
    TokenId id;
    while (nums >> id) cases[i].ids.push_back(id);
    ++i;
  }
  cases.resize(i);
  return cases;
}

/// The encoder model directory: $PARLEY_ENCODER_DIR, else parley::default_encoder_dir().
/// "" when none has a vocab.txt.
inline std::string encoder_dir() {
  std::vector<std::string> candidates;
  if (const char* d = std::getenv("PARLEY_ENCODER_DIR")) candidates.emplace_back(d);
  candidates.push_back(default_encoder_dir());
  for (const auto& c : candidates) {
    if (file_exists(c + "/vocab.txt")) return c;
  }
  return {};
}

/// The SmolLM2 GGUF (parley::default_lm_path()); "" if absent.
inline std::string smollm2_path() {
  const std::string p = default_lm_path();
  return file_exists(p) ? p : std::string();
}

/// The optional Qwen2.5-Coder GGUF (parley::qwen_lm_path()); "" if absent.
inline std::string qwen_path() {
  const std::string p = qwen_lm_path();
  return file_exists(p) ? p : std::string();
}

inline std::string ids_to_string(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) {
    s.push_back(' ');
    s.append(std::to_string(id));
  }
  return s;
}

struct ReferenceCase {
  bool parse_special;
  std::string text;
  std::vector<TokenId> ids;
};

/// Reads a data file written by tools/reference/text_tokenize_reference.py.
inline std::vector<ReferenceCase> read_reference(const std::string& path) {
  std::vector<ReferenceCase> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    int special;
    std::string hex, colon;
    fields >> special >> hex >> colon;
    ReferenceCase c{special != 0, {}, {}};
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      c.text.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    TokenId id;
    while (fields >> id) c.ids.push_back(id);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace parley::text::testing
