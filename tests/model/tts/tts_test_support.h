// Helpers the TTS model tests and benchmark share: where the voice, the phonemizer and the
// reference venv are; an in-process CallContext and a collecting StreamWriter; running
// tools/reference/tts_reference.py. Why: every TTS test needs the same look-ups and skip
// messages. Depends on services/tts, shared/common/json_document.h.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "parley/v1/tts.pb.h"
#include "services/tts/tts_service.h"
#include "shared/audio/pcm.h"
#include "shared/common/json_document.h"
#include "shared/common/model_paths.h"

namespace parley::tts::testing {

inline std::string voice_path() {
  if (const char* v = std::getenv("PARLEY_TTS_VOICE"); v != nullptr && *v != '\0') return v;
  return model_root() + "/tts-joe/en_US-joe-medium.onnx";
}
inline bool voice_present() {
  std::error_code ec;
  return std::filesystem::exists(voice_path(), ec) && std::filesystem::exists(voice_path() + ".json", ec);
}
inline std::string phonemizer_path() { return std::string(PARLEY_BINARY_DIR) + "/services/tts/phonemizer/parley-phonemize"; }

/// The tts reference venv's python ($PARLEY_REFENV_DIR or ~/.cache/parley, then refenv-tts), or "".
inline std::string reference_python() {
  std::string root;
  if (const char* r = std::getenv("PARLEY_REFENV_DIR"); r != nullptr && *r != '\0') {
    root = r;
  } else {
    const char* home = std::getenv("HOME");
    root = std::string(home != nullptr ? home : ".") + "/.cache/parley";
  }
  const std::string py = root + "/refenv-tts/bin/python";
  std::error_code ec;
  return std::filesystem::exists(py, ec) ? py : "";
}

/// Runs `python tools/reference/tts_reference.py <args>` and parses its last stdout line as JSON.
inline Result<json::Value> run_reference(const std::string& python, const std::string& args) {
  const std::string cmd = "'" + python + "' '" + std::string(PARLEY_SOURCE_DIR) + "/tools/reference/tts_reference.py' " + args;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return unavailable("cannot start: " + cmd);
  std::string out;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) return internal_error("reference failed (rc " + std::to_string(rc) + "): " + cmd);
  // The JSON answer is the last line (libraries may log before it).
  const std::size_t at = out.rfind("\n{");
  return json::parse(at == std::string::npos ? out : out.substr(at + 1), {.max_depth = 16});
}

inline TtsOptions default_options(int engines = 1) {
  TtsOptions o;
  o.voice_paths = {voice_path()};
  o.phonemizer.program = phonemizer_path();
  o.engines = engines;
  return o;
}

/// A CallContext for in-process calls: cancelled() is a flag (or a predicate) the test sets.
struct TestContext : service::CallContext {
  std::string m = "parley.v1.Tts/Synthesize", empty;
  std::atomic<bool> cancel{false};
  std::function<bool()> cancel_when;
  const std::string& method() const override { return m; }
  const std::string& session_id() const override { return empty; }
  const std::string& trace_id() const override { return empty; }
  std::chrono::steady_clock::time_point deadline() const override { return std::chrono::steady_clock::time_point::max(); }
  bool cancelled() const override { return cancel.load() || (cancel_when && cancel_when()); }
  void add_timing(std::string, std::chrono::microseconds) override {}
};

/// Keeps every reply and when it came.
struct Collect : service::StreamWriter<v1::SynthesizeResponse> {
  std::vector<v1::SynthesizeResponse> replies;
  std::vector<std::chrono::steady_clock::time_point> at;
  std::function<void(const v1::SynthesizeResponse&)> on_write;
  bool write(const v1::SynthesizeResponse& r) override {
    replies.push_back(r);
    at.push_back(std::chrono::steady_clock::now());
    if (on_write) on_write(r);
    return true;
  }
  std::vector<float> audio() const {
    std::vector<float> out;
    for (const auto& r : replies) {
      auto s = audio::decode_pcm16_le(r.audio().data());
      if (s.ok()) out.insert(out.end(), s->begin(), s->end());
    }
    return out;
  }
};

}  // namespace parley::tts::testing
