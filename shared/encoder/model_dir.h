// Where the default encoder lives, and a start-up check that a model directory is complete.
// Why: NLU, QA, their evaluations and benchmarks all find all-MiniLM-L6-v2 the same way and
// must fail with the same clear message (naming the file and tools/models/fetch) when it is not
// there. Depends on shared/common.
#pragma once

#include <string>

#include "shared/common/status.h"

namespace parley::encoder {

/// `$PARLEY_MODEL_DIR/encoder-minilm`, PARLEY_MODEL_DIR defaulting to ~/.cache/parley/models
/// (where tools/models/fetch puts the manifest's encoder-minilm files).
std::string default_model_dir();

/// FAILED_PRECONDITION naming the first missing file (model.safetensors, config.json,
/// vocab.txt) and how to get it; `hint` is appended (the caller's flag that overrides the dir).
Status check_model_dir(const std::string& dir, const std::string& hint);

}  // namespace parley::encoder
