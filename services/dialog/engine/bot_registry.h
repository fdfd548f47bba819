// The loaded bots: load from files or YAML text (within BotLimits), validate (webhooks against
// the deployment's allow list), keep the NLU trained and the QA knowledge base ingested for each
// (retried with backoff while a service is down; never re-sent once a service refused the bot),
// persist uploaded bots in the session store so every replica and a restart have them, and
// delete them. Depends on bot/loader.h, services.h, webhook_guard.h, shared/store, dialog.proto.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/bot/loader.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/services.h"
#include "services/dialog/engine/webhook_guard.h"
#include "shared/store/session_store.h"

namespace parley::dialog {

struct BotRegistryOptions {
  /// Deadline of one NLU Train / QA Ingest.
  std::chrono::milliseconds train_timeout{60'000};
  /// Caps on one definition (bytes, aliases, examples, slots, ...).
  BotLimits limits;
  /// Bots loaded at once, from files and uploads together (more: RESOURCE_EXHAUSTED).
  std::size_t max_bots = 1000;
  /// Bots one tenant may have uploaded (api.max_bots_per_key; more: RESOURCE_EXHAUSTED).
  std::size_t max_bots_per_tenant = 20;
  /// Where the bots' action webhooks may point (checked at load: a bot naming another host is
  /// refused). Default: none allowed.
  WebhookGuard webhook_guard;
  /// NLU fine-tuning modes a bot may ask for ("full", "lora"; dialog.bot_fine_tune_allow): a
  /// bot asking for another is refused at load (PERMISSION_DENIED). "off" is always allowed.
  std::set<std::string> fine_tune_allow{"full", "lora"};
  /// Uploaded bots are kept here (key "bot:<id>") and loaded from here at start and by every
  /// sync (so other replicas' uploads and deletes arrive within a sync interval). Null: not kept.
  store::SessionStore* store = nullptr;
  /// Failed syncs (a service down) are retried after retry_min, doubling up to retry_max.
  std::chrono::milliseconds retry_min{5'000};
  std::chrono::milliseconds retry_max{300'000};
};

/// Bots by id.
///
///   BotRegistry bots(services, &metrics, options);
///   auto b = bots.load_file("services/dialog/bots/demo/bot.yaml");  // INVALID_ARGUMENT lists errors
///   bots.start_sync(std::chrono::seconds(5));    // background: train/ingest what is not synced
///   std::shared_ptr<const Bot> bot = bots.find("demo");
///
/// A bot is usable as soon as it validated; turns before its NLU training finished fall back with
/// an error (and kick a sync). A sync a service refused (INVALID_ARGUMENT, FAILED_PRECONDITION,
/// OUT_OF_RANGE, RESOURCE_EXHAUSTED: the bot is the problem) is not retried until the bot is
/// loaded again or the service is seen to have lost it; other failures are retried with backoff.
/// A replaced or deleted bot is freed as soon as no turn uses it, and the allocator is asked to
/// give the memory back to the OS.
/// Threading: thread-safe; load/put/reload/remove block for one sync attempt (NLU training
/// takes seconds) — never call them from an actor handler or an I/O thread.
class BotRegistry {
 public:
  BotRegistry(Services& services, DialogMetrics* metrics, BotRegistryOptions options);
  BotRegistry(Services& services, DialogMetrics* metrics, std::chrono::milliseconds train_timeout = std::chrono::seconds(60));
  ~BotRegistry();
  BotRegistry(const BotRegistry&) = delete;
  BotRegistry& operator=(const BotRegistry&) = delete;

  /// Validates and installs the bot from a file (replacing one with the same id), then tries once
  /// to train the NLU and ingest its knowledge base. A failed sync does not fail the load.
  Result<v1::Bot> load_file(const std::string& path);
  /// Same from YAML text (PUT /v1/bots/{id}) uploaded by `owner` (a tenant; "" without keys); the
  /// bot's id must equal `id`. Errors: INVALID_ARGUMENT (the definition, every error listed),
  /// OUT_OF_RANGE (over a BotLimits cap), PERMISSION_DENIED (a webhook host or a fine-tuning mode
  /// not allowed, or `id` is another tenant's upload), RESOURCE_EXHAUSTED (max_bots or the
  /// tenant's quota). Persisted to the store when one is set (UNAVAILABLE when that fails:
  /// nothing was installed).
  Result<v1::Bot> put_yaml(const std::string& id, const std::string& yaml, const std::string& owner = "");
  /// Reloads a bot from the file it came from. NOT_FOUND / FAILED_PRECONDITION (not from a file).
  Result<v1::Bot> reload(const std::string& id);
  /// Unloads a bot (DELETE /v1/bots/{id}): dropped here, from the store, and from the NLU and QA
  /// (best effort). `owner` set: only that tenant's uploads (PERMISSION_DENIED otherwise; bots
  /// from files may be deleted by any admin). NOT_FOUND when not loaded.
  Status remove(const std::string& id, const std::optional<std::string>& owner = std::nullopt);

  std::shared_ptr<const Bot> find(const std::string& id) const;
  Result<v1::Bot> describe(const std::string& id) const;
  /// describe() plus the NLU's fine-tuning job for the bot, asked of every live NLU replica
  /// without blocking (Bot.nlu_replicas; Bot.nlu_fine_tune: the one furthest behind); `done`
  /// runs once, on any thread, by `deadline`. The bot is described either way: when the NLU was
  /// not asked (not trained on the bot yet) or a replica did not answer, Bot.nlu_fine_tune_error
  /// says so. NOT_FOUND when the bot is not loaded.
  void describe_with_training(const std::string& id, Deadline deadline, std::function<void(Result<v1::Bot>)> done) const;
  std::vector<v1::Bot> list() const;
  /// Who uploaded `id` ("" for a file bot); nullopt when not loaded.
  std::optional<std::string> owner_of(const std::string& id) const;

  /// The NLU or QA lost the bot (restart): sync it again soon.
  void mark_unsynced(const std::string& id);
  /// Starts the background thread that retries unsynced bots (and reads the store's bots) every
  /// `interval`.
  void start_sync(std::chrono::milliseconds interval);
  void stop_sync();
  /// Tries to sync every unsynced bot whose retry time has come (blocking). Returns how many are
  /// still unsynced.
  std::size_t sync_pending();
  /// Loads bots uploaded elsewhere (or before a restart) from the store, and drops uploads that
  /// were deleted there. Returns how many bots changed. No-op without a store.
  std::size_t refresh_from_store();

 private:
  struct Entry {
    std::shared_ptr<const Bot> bot;
    std::int64_t loaded_at_unix_ms = 0;
    bool nlu_trained = false;
    bool kb_ingested = false;
    std::string sync_error;
    std::vector<std::string> nlu_warnings;  // the last successful Train's
    std::vector<std::string> kb_warnings;   // the last successful Ingest's
    std::uint64_t generation = 0;  // bumps on every load: a sync of an older version is ignored
    std::string owner;             // tenant of an upload; "" for a file bot
    bool uploaded = false;
    std::string stored_value;      // the StoredBot as written/read (detects changes from elsewhere)
    bool refused = false;          // a service refused it: not retried until reloaded or lost
    int failures = 0;              // consecutive failed syncs (backoff)
    std::chrono::steady_clock::time_point retry_at{};
  };
  Result<v1::Bot> install(LoadResult loaded, const std::string& owner, bool uploaded, std::string stored_value);
  Status check_quota(const std::string& id, const std::string& owner) const;
  LoadResult parse_upload(const std::string& id, const std::string& yaml) const;
  void sync(const std::string& id);
  static v1::Bot to_proto(const Entry& e);
  static void give_memory_back();

  Services& services_;
  DialogMetrics* metrics_;
  BotRegistryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> bots_;  // guarded by mu_
  std::uint64_t next_generation_ = 1;  // guarded by mu_
  std::mutex sync_mu_;                 // one sync at a time
  std::mutex store_mu_;                // one store refresh at a time
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool kick_ = false;      // guarded by mu_
  std::thread sync_thread_;
};

/// Fills Bot.nlu_replicas from every replica's TrainingStatus, Bot.nlu_fine_tune with the one
/// furthest behind, and Bot.nlu_fine_tune_error with the replicas that did not answer (or that
/// none is live).
void summarize_training(const std::vector<ReplicaTrainingStatus>& replicas, v1::Bot& bot);

}  // namespace parley::dialog
