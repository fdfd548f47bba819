// Limits on a bot definition: bytes, YAML aliases and their expansion, nodes and nesting, and the
// counts the loader checks (intents, examples, slots and their values, responses, rules, forms,
// documents). Exists because bot YAML comes from API clients: a 304 KB file with 100,000 aliases
// of a 4 KB scalar once grew the dialog by 1.2 GB (issue 15). Depends on shared/common.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley::dialog {

/// Every cap is explicit and configurable (dialog.bot_* keys); the defaults fit the demo bot
/// many times over. A definition over a cap is refused whole: OUT_OF_RANGE (HTTP 413) naming the
/// cap, its value and where in the file it was crossed.
struct BotLimits {
  std::size_t max_bytes = 1 << 20;              ///< the YAML text
  std::size_t max_aliases = 1000;               ///< alias uses (*name) in the text
  /// Scalar bytes of the document with every alias expanded (what a reader of the tree touches):
  /// the guard against alias amplification ("billion laughs").
  std::size_t max_expanded_bytes = 4 << 20;
  std::size_t max_nodes = 200'000;              ///< scalars, sequences and mappings (aliases expanded)
  std::size_t max_depth = 64;                   ///< nesting of sequences and mappings
  std::size_t max_intents = 500;
  std::size_t max_examples = 20'000;            ///< over all intents
  std::size_t max_slots = 200;                  ///< entities
  std::size_t max_slot_values = 20'000;         ///< categorical values + synonyms, over all slots
  std::size_t max_responses = 2'000;            ///< response names
  std::size_t max_variations = 20'000;          ///< response variations, over all responses
  std::size_t max_rules = 2'000;
  std::size_t max_forms = 200;
  std::size_t max_documents = 1'000;            ///< knowledge-base documents
  std::size_t max_document_bytes = 4 << 20;     ///< one document (inline or file)
  std::size_t max_kb_bytes = 32 << 20;          ///< all documents
  std::size_t max_webhooks = 100;
  /// lm_fallback.max_tokens at most this: the LM refuses more (its lm.max_tokens_limit, 1024 by
  /// default), so a bot asking more would fail every fallback. Keep dialog.lm_max_tokens equal.
  int max_lm_tokens = 1024;
};

/// Scans `yaml` as a stream of parser events — before any tree is built — and checks bytes,
/// aliases, expanded bytes, nodes and depth. OK, OUT_OF_RANGE "<file>:L:C: <what> (limit N)",
/// or INVALID_ARGUMENT for YAML that does not parse (the loader reports it in full). Only the
/// first document is read. Linear in the text: alias expansion is counted, never performed.
Status check_yaml_limits(std::string_view yaml, const std::string& file_name, const BotLimits& limits);

}  // namespace parley::dialog
