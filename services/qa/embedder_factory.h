// Chooses the QA embedder from configuration: the MiniLM sentence encoder (shared/models/encoder) by
// default, or the hash embedder. Exists so main.cc, tools/eval/qa and the benchmark build the
// same embedder from the same settings and report the same start-up errors. Depends on embedder.
#pragma once

#include <memory>
#include <string>

#include "services/qa/embedder.h"
#include "shared/engine/device.h"

namespace parley::qa {

/// kind "encoder": loads the model in `encoder_dir` (empty: parley::default_encoder_dir()) onto
/// `device` (qa.device; `threads` are its CPU threads); a missing directory or file is
/// FAILED_PRECONDITION naming the path and `tools/models/fetch`, a missing GPU UNAVAILABLE.
/// kind "hash": HashEmbedder(256) (host). Anything else: INVALID_ARGUMENT.
Result<std::shared_ptr<const Embedder>> make_embedder(const std::string& kind, const std::string& encoder_dir,
                                                     int threads, engine::Device device = engine::Device::cpu());

}  // namespace parley::qa
