// Test support: a scripted StepModel and detokenizer for scheduler tests.
// The fake keeps token ids in its own paged "KV cache" and computes the next token only from what
// it reads back through the block table, so a wrong position, page or chunk changes the output.
// Depends on services/lm/step_model.h, generation.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "services/lm/generation.h"
#include "services/lm/step_model.h"

namespace parley::lm::testing {

class FakeModel final : public StepModel {
 public:
  enum class Mode {
    kIncrement,  ///< greedy next token = (last token + 1) mod (vocab - 1)
    kHash,       ///< greedy next token = hash of the whole context read from the cache
  };
  FakeModel(std::int64_t vocab, std::int64_t num_pages, std::int64_t page_size, Mode mode = Mode::kIncrement,
            std::int64_t max_context = 0)
      : vocab_(vocab), page_size_(page_size), mode_(mode), max_context_(max_context),
        kv_(static_cast<std::size_t>(num_pages * page_size), -1) {}

  std::int64_t vocab_size() const override { return vocab_; }
  std::int64_t max_context() const override { return max_context_; }

  struct Call {
    std::vector<std::int64_t> start;   // per sequence
    std::vector<std::int64_t> count;   // tokens per sequence
    std::vector<bool> logits;
  };
  std::vector<Call> calls;
  int fail_next = 0;  // fail this many coming steps
  std::function<void()> on_step;  // runs at the start of every step (threaded tests gate with it)

  Status step(const BatchInput& batch, std::span<float> logits) override {
    if (on_step) on_step();
    if (fail_next > 0) {
      --fail_next;
      return internal_error("injected failure");
    }
    Call call;
    std::int64_t row = 0;
    for (const SequenceInput& s : batch.sequences) {
      call.start.push_back(s.start_pos);
      call.count.push_back(static_cast<std::int64_t>(s.tokens.size()));
      call.logits.push_back(s.logits == LogitsMode::kLast);
      for (std::size_t i = 0; i < s.tokens.size(); ++i) {
        const std::int64_t pos = s.start_pos + static_cast<std::int64_t>(i);
        const std::size_t page = static_cast<std::size_t>(pos / page_size_);
        if (page >= s.block_table.size()) return out_of_range("block table too short");
        kv_[static_cast<std::size_t>(s.block_table[page] * page_size_ + pos % page_size_)] = s.tokens[i];
      }
      if (s.logits != LogitsMode::kLast) continue;
      const std::int64_t end = s.start_pos + static_cast<std::int64_t>(s.tokens.size());
      std::uint64_t h = 1469598103934665603ull;
      std::int32_t last = -1;
      for (std::int64_t pos = 0; pos < end; ++pos) {
        const std::int32_t t =
            kv_[static_cast<std::size_t>(s.block_table[static_cast<std::size_t>(pos / page_size_)] * page_size_ +
                                         pos % page_size_)];
        if (t < 0) return internal_error("read an unwritten KV slot");
        h = (h ^ static_cast<std::uint64_t>(t)) * 1099511628211ull;
        last = t;
      }
      const std::int64_t target = mode_ == Mode::kIncrement ? (last + 1) % (vocab_ - 1)
                                                            : static_cast<std::int64_t>(h % static_cast<std::uint64_t>(vocab_ - 1));
      float* out = logits.data() + row * vocab_;
      for (std::int64_t j = 0; j < vocab_; ++j) {
        // A spread of plausible tokens (so sampling has choices) with a clear winner.
        out[j] = static_cast<float>(std::sin(static_cast<double>((h >> 7) % 1000) + 0.37 * static_cast<double>(j)));
      }
      out[target] = 4.0f;
      ++row;
    }
    calls.push_back(std::move(call));
    return Status::ok();
  }

 private:
  std::int64_t vocab_, page_size_;
  Mode mode_;
  std::int64_t max_context_;
  std::vector<std::int32_t> kv_;
};

/// Token t -> one letter ('a' + t % 26): "abc" spans three tokens.
class LetterStream final : public TokenTextStream {
 public:
  std::string push(std::int32_t t) override { return std::string(1, static_cast<char>('a' + t % 26)); }
  std::string finish() override { return ""; }
};
inline TextStreamFactory letter_factory() {
  return [] { return std::make_unique<LetterStream>(); };
}

}  // namespace parley::lm::testing
