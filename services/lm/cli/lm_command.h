// `parley lm`: generate text from the command line, streaming to stdout — against a running
// parley-lm (--target) or an engine started in this process (--local MODEL.gguf).
// Why: a person can try the LM without writing a client.
// Depends on services/lm (LmService), shared/transport, proto lm.proto.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace parley::lm {

/// Usage text of the command.
std::string lm_command_usage();

/// `parley lm "prompt" [--target tcp://127.0.0.1:7104] [--max-tokens N] [--temperature T]
///  [--top-k K] [--top-p P] [--seed S] [--repetition-penalty R] [--stop S]... [--chat]
///  [--system TEXT] [--timeout-ms N] [--stats] [--local MODEL.gguf [--weights int8|f32|native]
///  [--threads N]]`.
/// Text goes to `out` as it streams; errors (and --stats) to `err`. Returns 0 on success, 1 on
/// a failed call, 2 on bad arguments. Blocks until the generation ends.
int run_lm_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
/// The same on std::cout / std::cerr (what tools/parley/main.cc calls).
int run_lm_command(std::vector<std::string> args);

}  // namespace parley::lm
