// Chunker: turns a Markdown or plain-text document into passages for retrieval.
// Exists so ingestion has one documented rule for what a passage is: sentences grouped up to a
// word budget, overlapping by whole sentences, never crossing a heading, with the heading path
// kept as the passage's context. Depends on text_utils.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "services/qa/text_utils.h"

namespace parley::qa {

struct ChunkOptions {
  /// Word budget of a passage (whitespace words; a single longer sentence becomes its own passage,
  /// cut at max_sentence_words).
  std::size_t chunk_words = 120;
  /// Trailing sentences of a passage repeated at the start of the next, up to this many words.
  std::size_t overlap_words = 30;
  /// A sentence longer than this is cut into pieces of this size (keeps passages embeddable).
  std::size_t max_sentence_words = 200;
};

/// One passage of a document. `text` is plain text (Markdown syntax removed); `context` is the
/// heading path ("Title > Section > Subsection"); `sentences` are byte ranges into `text`.
struct Chunk {
  std::string context;
  std::string text;
  std::vector<Span> sentences;
};

/// Splits `document` (Markdown or plain text). Markdown: ATX headings (`#`..`######`) start a
/// section and become context; list markers, emphasis, inline code and link targets are
/// stripped; fenced code is kept as text. `title` (may be empty) is the context's first element.
std::vector<Chunk> chunk_document(std::string_view title, std::string_view document, const ChunkOptions& options);

}  // namespace parley::qa
