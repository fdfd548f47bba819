// Helpers shared by the encoder model test and benchmark: where the model and the reference venv
// are, running tools/reference/encoder_reference.py and reading its JSON answer.
// Why: both need the same look-ups and skip messages. Depends on shared/models/encoder (json parser).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "shared/common/json_document.h"
#include "shared/common/model_paths.h"
#include "shared/common/status.h"

namespace parley::encoder::testing {

/// PARLEY_ENCODER_DIR, else parley::default_encoder_dir().
inline std::string model_dir() {
  if (const char* d = std::getenv("PARLEY_ENCODER_DIR"); d != nullptr && *d != '\0') return d;
  return default_encoder_dir();
}

inline bool model_present(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::exists(dir + "/model.safetensors", ec) && std::filesystem::exists(dir + "/config.json", ec);
}

/// The reference venv's python ($PARLEY_REFENV_DIR or ~/.cache/parley, then refenv-encoder), or "".
inline std::string reference_python() {
  std::string root;
  if (const char* r = std::getenv("PARLEY_REFENV_DIR"); r != nullptr && *r != '\0') {
    root = r;
  } else {
    const char* home = std::getenv("HOME");
    root = std::string(home != nullptr ? home : ".") + "/.cache/parley";
  }
  const std::string py = root + "/refenv-encoder/bin/python";
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

/// Runs `python tools/reference/encoder_reference.py <args>` and parses its stdout as JSON.
inline Result<json::Value> run_reference(const std::string& python, const std::string& args) {
  const std::string cmd = "'" + python + "' '" + source_dir() + "/tools/reference/encoder_reference.py' " + args;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return unavailable("cannot start: " + cmd);
  std::string out;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) return internal_error("reference failed (rc " + std::to_string(rc) + "): " + cmd);
  auto v = json::parse(out, {.max_depth = 16});
  if (!v.ok()) return internal_error("reference printed bad JSON: " + v.status().message());
  return v;
}

}  // namespace parley::encoder::testing
