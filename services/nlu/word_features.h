// Feature templates of the NLU heads: which encoder vectors and which lexical strings describe a
// word (slot tagger) or a whole text (intent head). Why: training and parsing must build exactly
// the same features; one place says what they are. Depends on featurizer.h, linear_layer.h.
#pragma once

#include <string>
#include <vector>

#include "services/nlu/featurizer.h"
#include "services/nlu/linear_layer.h"

namespace parley::nlu {

/// Which parts of a word's neighbourhood the tagger sees (dense: encoder vectors; sparse:
/// word identity strings learned from the bot's examples).
struct WordFeatureOptions {
  bool neighbour_context = false;  ///< contextual vectors of words i-1 and i+1
  bool lexical = true;             ///< static embedding of word i
  bool neighbour_lexical = true;   ///< static embeddings of words i-1 and i+1
  bool sparse = true;              ///< word / neighbour / suffix / shape / bigram strings
  /// Sparse strings conjoined with the text's context label (the intent: SNIPS-style slot types
  /// belong to intents, so "playlist" after AddToPlaylist is not "playlist" after PlayMusic).
  bool context = true;
};

/// Dense dimension of one word's row for these options.
int word_dense_dim(const WordFeatureOptions& o, int context_dim, int lexical_dim);

/// Standardizers for the contextual and lexical segments, fitted on training words.
struct WordStandardizers {
  Standardizer context, lexical;
  void fit(const std::vector<const TextFeatures*>& texts);
};

/// Appends word rows of `f` (standardized) to batch.dense and their sparse ids to batch.sparse
/// (`dict` grows when `grow`).
void append_word_rows(const TextFeatures& f, const WordFeatureOptions& o, const WordStandardizers& st,
                      FeatureDict& dict, bool grow, LinearBatch& batch);
void append_word_rows(const TextFeatures& f, const WordFeatureOptions& o, const WordStandardizers& st,
                      const FeatureDict& dict, LinearBatch& batch, std::string_view context = {});

/// The sparse strings of word i ("w=book", "p=<s>", "s3=ook", "sh=xxxx", ...), plus the
/// context-conjoined ones ("c=greet", "cw=greet|book") when `context` is not empty.
std::vector<std::string> word_sparse_strings(const TextFeatures& f, std::size_t i, std::string_view context = {});

/// Text-level features of the intent head: dense [sentence, joint intent logits (fine-tuned bots
/// only), mean lexical], sparse unigrams and bigrams of words.
int text_dense_dim(const TextFeatures& f);
void text_dense_row(const TextFeatures& f, float* out);
std::vector<std::string> text_sparse_strings(const TextFeatures& f);

}  // namespace parley::nlu
