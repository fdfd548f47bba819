// FinetuneCache: fine-tuned encoders kept on disk (nlu.finetune.cache_dir), keyed by everything
// that decides them: the base encoder's weights, the fine-tuning options and the bot's examples.
// Why: a fine-tuning job takes minutes of every core; without the cache a restarted replica, or
// each new replica of a scaled-out service, fine-tunes every bot again and serves the frozen
// model meanwhile (Rasa likewise skips training when a model's fingerprint is unchanged). A
// directory shared by the replicas (a volume) lets one job serve them all.
// Depends on finetune.h, shared/common/sha256.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/finetune.h"
#include "shared/common/status.h"
#include "shared/models/encoder/model.h"

namespace parley::nlu {

/// Thread-safe (each call works on files of its own key; writes are atomic renames).
class FinetuneCache {
 public:
  struct Options {
    std::filesystem::path dir;
    /// Entries are removed, least recently used first, while the directory holds more.
    std::uint64_t max_bytes = std::uint64_t{8} << 30;
  };
  /// Creates the directory when missing; InvalidArgument naming it when it cannot be used.
  static Result<std::unique_ptr<FinetuneCache>> open(Options options);

  /// SHA-256 (hex) of the base encoder: its config and every FP32 weight. Computed once per base.
  static std::string base_id(const encoder::EncoderModel& base);
  /// The entry key of a job: SHA-256 over the file format, `base_id`, the mode, the options that
  /// change what is trained (not threads, device or serving precision) and the request's intents
  /// with their examples and spans, in order (the bot id and slot definitions do not matter).
  static std::string key(const v1::TrainRequest& request, v1::FineTuneMode mode, const FinetuneOptions& options,
                         std::string_view base_id);

  /// The entry of `key` (its last use is refreshed); nullopt when there is none. DataLoss naming
  /// the problem when the file is damaged (checksum, truncation) or does not fit `base`'s shapes
  /// or heads of `labels` intents and `tags` BIO tags (joint_label_count / joint_tag_count of the
  /// request): the file is removed and the caller fine-tunes afresh.
  Result<std::optional<FinetunedWeights>> load(const std::string& key, const encoder::EncoderModel& base, int labels,
                                               int tags) const;
  /// Writes the entry (arrays equal to `base`'s are not written: the frozen word embeddings are
  /// most of an encoder), then trims the directory to max_bytes.
  Status store(const std::string& key, const FinetunedWeights& tuned, const encoder::EncoderModel& base) const;

  const std::filesystem::path& dir() const { return options_.dir; }
  /// The path of `key`'s entry.
  std::filesystem::path path(const std::string& key) const;

 private:
  explicit FinetuneCache(Options o) : options_(std::move(o)) {}
  void trim(const std::filesystem::path& keep) const;
  Options options_;
};

}  // namespace parley::nlu
