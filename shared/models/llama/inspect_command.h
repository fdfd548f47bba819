// `parley model ...`: inspect a GGUF file, convert its weights to INT8 per-channel (written as
// Q8_0), or 2:4-prune them, reporting the weight error of each tensor.
// Why: users check and convert their own model files with the same code the LM service loads
// them with. Depends on shared/engine/gguf, kernels/ (quantize, sparse24), shared/models/llama/linear.h.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace parley::llama {

/// Runs one `parley model` subcommand; `args` excludes "parley model":
///   inspect FILE.gguf                 metadata, tensors (type, shape, bytes), totals per type
///   quantize IN.gguf OUT.gguf         projections → symmetric INT8 per output channel, stored as
///                                     Q8_0 blocks (d = channel scale); per-tensor relative error
///   prune IN.gguf OUT.gguf            projections (blk.*) → 2:4 magnitude pruned (stored in a type
///                                     that keeps zeros exact: f32/f16/bf16/q8_0/q4_0 as they are,
///                                     q4_1 → q8_0); per-tensor relative error
/// Returns 0 on success, 1 when a file cannot be read/converted/written, 2 on a usage error.
/// Writes the report to `out`, errors and usage to `err`. Blocking; call from one thread.
int run_model_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
/// Same, on std::cout / std::cerr (what tools/parley calls).
int run_model_command(std::vector<std::string> args);

}  // namespace parley::llama
