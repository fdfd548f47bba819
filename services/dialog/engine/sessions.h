// Sessions: the manager that creates, finds, evicts and deletes dialog sessions and routes turns
// to their actors (session_actor.h: one actor per session running its turns one at a time,
// persisting the state to the SessionStore after each turn).
// Depends on shared/actor, shared/store (SessionStore), services.h, turn.h, dialog_metrics.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/bot/bot.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/services.h"
#include "services/dialog/engine/turn.h"
#include "shared/actor/actor_system.h"
#include "shared/actor/executor.h"
#include "shared/store/session_store.h"

namespace parley::dialog {

/// Whose session a caller may touch: nullopt = anyone's (the internal transport, trusted); a
/// tenant name (possibly "" for an API without keys) = only sessions that tenant created.
using TenantCheck = std::optional<std::string>;

struct DialogOptions {
  std::chrono::milliseconds nlu_timeout{2000};
  std::chrono::milliseconds qa_timeout{5000};
  std::chrono::milliseconds lm_timeout{30000};
  /// Budget of a whole turn; each call gets min(its timeout, what is left).
  std::chrono::milliseconds turn_timeout{60000};
  /// Sessions expire this long after their last write (every turn writes). 0: never.
  std::chrono::milliseconds session_ttl{3600 * 1000};
  /// Turns kept in Session.history (older ones are dropped).
  int max_history = 20;
  /// Turns of one session waiting behind the running one; more: RESOURCE_EXHAUSTED.
  std::size_t max_queued_turns = 8;
};

/// What sessions need from the rest of the orchestrator. Everything must outlive the manager.
struct SessionDeps {
  std::function<std::shared_ptr<const Bot>(const std::string& bot_id)> find_bot;
  /// The NLU did not know the bot (restarted?): retrain it. May be empty.
  std::function<void(const std::string& bot_id)> bot_needs_sync;
  Services* services = nullptr;
  store::SessionStore* store = nullptr;
  /// Where a session actor's store round trips run. Null: inline, inside the actor's handler
  /// (right for the memory store: a mutex, no I/O). With Redis, a small thread pool: the actor
  /// posts the get/put there and continues when the result comes back as a message, so a slow
  /// or paused Redis (each call bounded by the store's command timeout) holds a store thread,
  /// never an actor thread, and other sessions' turns keep running.
  actor::Executor* store_executor = nullptr;
  /// Where the policy runs (decide(): slot normalization and the bot's regex patterns). Null:
  /// inline in the actor's handler (tests). In the process, a small pool of its own, so that no
  /// bot content ever runs on the actor threads that serve every other session (issue 15); the
  /// decision comes back to the session actor as a message.
  actor::Executor* policy_executor = nullptr;
  DialogMetrics* metrics = nullptr;  ///< may be null (tests)
};

/// Creates sessions and routes turns to their actors.
///
///   SessionManager sessions(system, deps, options);
///   auto s = sessions.create("demo", {});                       // stored, no actor yet
///   sessions.turn(s->id(), "book a table for 4", {}, [](Result<v1::TurnResponse> r) { ... });
///
/// A session's actor is spawned on its first turn here and re-reads the state from the store at
/// the start of every turn (parsing it again only when the stored version changed), so turns of
/// one session may alternate between replicas sharing a Redis store. The turn's result is written
/// with compare-and-set on the version it read; when another replica wrote in between (ABORTED),
/// the turn is run once more from the fresh state (NLU again, so a webhook or LM call may repeat)
/// and the client sees one reply; a second conflict in a row returns ABORTED (HTTP 409).
/// Threading: all methods are thread-safe; turn() never blocks; create/get/remove do one store
/// round trip on the caller's thread (bounded by the store's timeout).
class SessionManager {
 public:
  SessionManager(actor::ActorSystem& system, SessionDeps deps, DialogOptions options);
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  /// A new session of `bot_id` owned by `tenant` (Session.tenant).
  Result<v1::Session> create(const std::string& bot_id, const std::map<std::string, std::string>& metadata,
                             const std::string& tenant = "");
  void turn(const std::string& session_id, std::string text, TokenFn on_token, TurnDone done);
  /// turn() with a tag (new_turn_tag()) by which the caller can interrupt it later.
  void turn(const std::string& session_id, std::string text, TokenFn on_token, std::uint64_t tag, TurnDone done);
  /// The same, for `tenant` only: another tenant's session answers NOT_FOUND, as if absent.
  void turn(const std::string& session_id, std::string text, TokenFn on_token, std::uint64_t tag, TurnDone done,
            TenantCheck tenant);
  /// Stops the turn tagged `tag` and keeps only `played_text` of the bot's reply (what a voice
  /// client heard before the user spoke over it): a running turn's LM generation is cancelled
  /// (the LM frees its pages), its remaining steps are skipped, its messages are cut before it is
  /// stored, and it answers with an "interrupted" event; a queued turn is dropped (its `done`
  /// gets CANCELLED); a turn already stored has its history entry cut (Turn.interrupted) before
  /// the session's next turn runs. Never blocks.
  void interrupt(const std::string& session_id, std::uint64_t tag, std::string played_text, std::string reason);
  /// A process-unique turn tag (never 0).
  static std::uint64_t new_turn_tag();
  /// NOT_FOUND when absent — or owned by another tenant than `tenant` (when set).
  Result<v1::Session> get(const std::string& session_id, const TenantCheck& tenant = std::nullopt);
  /// NOT_FOUND when there was nothing to delete (or it is another tenant's).
  Status remove(const std::string& session_id, const TenantCheck& tenant = std::nullopt);

  /// Sessions with a live actor in this process.
  std::size_t active() const;
  /// Stops actors idle for longer than `idle` (their state stays in the store). Returns how many.
  std::size_t evict_idle(std::chrono::milliseconds idle);

  const DialogOptions& options() const { return options_; }

 private:
  struct Entry;
  std::shared_ptr<Entry> entry_for(const std::string& session_id);
  /// Stops and drops the session's actor (its state stays in the store).
  void forget(const std::string& session_id);

  actor::ActorSystem& system_;
  SessionDeps deps_;
  DialogOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> actors_;  // guarded by mu_
};

/// A new random session id: 128 bits from the OS CSPRNG (getrandom), 32 hex digits.
std::string new_session_id();

}  // namespace parley::dialog
