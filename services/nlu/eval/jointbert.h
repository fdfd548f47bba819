// JointBERT-format NLU data sets (SNIPS, ATIS: seq.in / seq.out / label per split) as a Parley
// TrainRequest plus gold-labelled evaluation examples, and seqeval-style span scoring.
// Why: the accuracy command (tools/eval/nlu) and the model test share the reader and the metric.
// Depends on proto (nlu.proto), shared/common.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include "parley/v1/nlu.pb.h"
#include "shared/common/status.h"

namespace parley::nlu::eval {

struct GoldSpan {
  std::string slot;
  int start = 0;
  int end = 0;
  friend bool operator<(const GoldSpan& a, const GoldSpan& b) {
    return std::tie(a.start, a.end, a.slot) < std::tie(b.start, b.end, b.slot);
  }
  friend bool operator==(const GoldSpan& a, const GoldSpan& b) = default;
};

struct Example {
  std::string text;  ///< the words joined by single spaces
  std::string intent;
  std::vector<GoldSpan> spans;
};

struct Split {
  std::vector<Example> examples;
  std::size_t skipped = 0;  ///< lines dropped (invalid UTF-8, tag count mismatch)
};

/// Reads `dir`/{seq.in, seq.out, label}. NotFound naming the missing file.
Result<Split> read_split(const std::string& dir);

/// A TrainRequest with one intent per label and one FREE_TEXT slot per slot type seen.
v1::TrainRequest to_train_request(const Split& train, const std::string& bot_id);

/// Span-level precision/recall/F1 (a span counts when slot, start and end all match).
struct SpanScore {
  std::size_t correct = 0, predicted = 0, gold = 0;
  void add(const std::vector<GoldSpan>& gold_spans, const std::vector<GoldSpan>& predicted_spans);
  double precision() const {
    return predicted == 0 ? 0 : static_cast<double>(correct) / static_cast<double>(predicted);
  }
  double recall() const { return gold == 0 ? 0 : static_cast<double>(correct) / static_cast<double>(gold); }
  double f1() const {
    double p = precision(), r = recall();
    return p + r == 0 ? 0 : 2 * p * r / (p + r);
  }
};

}  // namespace parley::nlu::eval
