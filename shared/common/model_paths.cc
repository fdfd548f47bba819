// Default model locations (see model_paths.h); mirrors default_cache() in tools/models/fetch.
#include "shared/common/model_paths.h"

#include <cstdlib>

namespace parley {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

std::string model_root() {
  if (const char* d = env("PARLEY_MODEL_DIR")) return d;
  if (const char* x = env("XDG_CACHE_HOME")) return std::string(x) + "/parley/models";
  if (const char* h = env("HOME")) return std::string(h) + "/.cache/parley/models";
  return ".cache/parley/models";
}

std::string default_lm_path() { return model_root() + "/lm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"; }

std::string qwen_lm_path() {
  return model_root() + "/lm-qwen2.5-coder/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf";
}

std::string default_encoder_dir() { return model_root() + "/encoder-minilm"; }

}  // namespace parley
