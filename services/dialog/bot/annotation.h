// Inline slot annotations in training examples: "book a table for [4](party_size) at [7pm](time)"
// becomes the plain text plus byte spans {party_size: 17..18, time: 22..25}.
// Exists so bot builders annotate examples the way Rasa users do. Depends on shared/common, nlu.proto.
#pragma once

#include <string>
#include <string_view>

#include "parley/v1/nlu.pb.h"
#include "shared/common/status.h"

namespace parley::dialog {

struct AnnotatedExample {
  std::string text;                   ///< annotations removed
  std::vector<v1::SlotSpan> spans;    ///< byte offsets into text
};

/// Parses one example. Errors (INVALID_ARGUMENT) name the 0-based character offset in `raw`
/// ("at 17: '[' without a closing ']'"): unbalanced brackets, an empty value or slot name, a
/// slot name that is not [A-Za-z_][A-Za-z0-9_]*. A '[' not followed by "](" is literal text only
/// when escaped as "\[".
Result<AnnotatedExample> parse_annotated_example(std::string_view raw);

/// The offset a parse error refers to (parsed back from its message), or -1.
int annotation_error_offset(const Status& status);

}  // namespace parley::dialog
