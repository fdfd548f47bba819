// A start-up check that an encoder model directory is complete (its default location is
// parley::default_encoder_dir(), shared/common/model_paths.h).
// Why: NLU, QA, their evaluations and benchmarks must fail with the same clear message (naming
// the file and tools/models/fetch) when it is not there. Depends on shared/common.
#pragma once

#include <string>

#include "shared/common/status.h"

namespace parley::encoder {

/// FAILED_PRECONDITION naming the first missing file (model.safetensors, config.json,
/// vocab.txt) and how to get it; `hint` is appended (the caller's flag that overrides the dir).
Status check_model_dir(const std::string& dir, const std::string& hint);

}  // namespace parley::encoder
