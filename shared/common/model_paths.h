// Where tools/models/fetch puts the default models, for the processes, tools and tests that load
// them. Why one place: the cache root has three sources (PARLEY_MODEL_DIR, XDG_CACHE_HOME, HOME)
// and every reader must agree with the fetch script. Depends on nothing.
#pragma once

#include <string>

namespace parley {

/// $PARLEY_MODEL_DIR, else $XDG_CACHE_HOME/parley/models, else ~/.cache/parley/models
/// (tools/models/fetch's cache).
std::string model_root();

/// The manifest's default LM file: <root>/lm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.
std::string default_lm_path();

/// The manifest's optional quality LM (lm-qwen2.5-coder, fetched with `tools/models/fetch --only
/// lm-qwen2.5-coder`): <root>/lm-qwen2.5-coder/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf.
std::string qwen_lm_path();

/// The manifest's default sentence encoder directory: <root>/encoder-minilm.
std::string default_encoder_dir();

}  // namespace parley
