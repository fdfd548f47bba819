// The loaded bots: load from files or YAML text, validate, and keep the NLU trained and the QA
// knowledge base ingested for each (retried in the background while a service is down or was
// restarted). Depends on bot/loader.h, services.h, dialog.proto.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/bot/loader.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/services.h"

namespace parley::dialog {

/// Bots by id.
///
///   BotRegistry bots(services, &metrics);
///   auto b = bots.load_file("services/dialog/bots/demo/bot.yaml");  // INVALID_ARGUMENT lists errors
///   bots.start_sync(std::chrono::seconds(5));    // background: train/ingest what is not synced
///   std::shared_ptr<const Bot> bot = bots.find("demo");
///
/// A bot is usable as soon as it validated; turns before its NLU training finished fall back with
/// an error (and kick a sync). Threading: thread-safe; load/put/reload block for one sync attempt
/// (NLU training takes seconds) — never call them from an actor handler or an I/O thread.
class BotRegistry {
 public:
  BotRegistry(Services& services, DialogMetrics* metrics, std::chrono::milliseconds train_timeout = std::chrono::seconds(60));
  ~BotRegistry();
  BotRegistry(const BotRegistry&) = delete;
  BotRegistry& operator=(const BotRegistry&) = delete;

  /// Validates and installs the bot from a file (replacing one with the same id), then tries once
  /// to train the NLU and ingest its knowledge base. A failed sync does not fail the load.
  Result<v1::Bot> load_file(const std::string& path);
  /// Same from YAML text (PUT /v1/bots/{id}); the bot's id must equal `id`. Knowledge-base files
  /// resolve against the folder of the bot's current file, if it came from one.
  Result<v1::Bot> put_yaml(const std::string& id, const std::string& yaml);
  /// Reloads a bot from the file it came from. NOT_FOUND / FAILED_PRECONDITION (not from a file).
  Result<v1::Bot> reload(const std::string& id);

  std::shared_ptr<const Bot> find(const std::string& id) const;
  Result<v1::Bot> describe(const std::string& id) const;
  std::vector<v1::Bot> list() const;

  /// The NLU or QA lost the bot (restart): sync it again soon.
  void mark_unsynced(const std::string& id);
  /// Starts the background thread that retries unsynced bots every `interval`.
  void start_sync(std::chrono::milliseconds interval);
  void stop_sync();
  /// Tries to sync every unsynced bot now (blocking). Returns how many are still unsynced.
  std::size_t sync_pending();

 private:
  struct Entry {
    std::shared_ptr<const Bot> bot;
    std::int64_t loaded_at_unix_ms = 0;
    bool nlu_trained = false;
    bool kb_ingested = false;
    std::string sync_error;
    std::uint64_t generation = 0;  // bumps on every load: a sync of an older version is ignored
  };
  Result<v1::Bot> install(LoadResult loaded);
  void sync(const std::string& id);
  static v1::Bot to_proto(const Entry& e);

  Services& services_;
  DialogMetrics* metrics_;
  std::chrono::milliseconds train_timeout_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> bots_;  // guarded by mu_
  std::uint64_t next_generation_ = 1;  // guarded by mu_
  std::mutex sync_mu_;                 // one sync at a time
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool kick_ = false;      // guarded by mu_
  std::thread sync_thread_;
};

}  // namespace parley::dialog
