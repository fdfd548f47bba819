// The session actor: one per dialog session, running its turns one at a time. Its message set is
// typed — a turn to start, and one reply message per kind of call a turn makes (store get, NLU,
// QA, LM, webhook, store put) — and the turn's state machine lives in session_actor.cc alone;
// what each step sends and how its reply changes the turn is in the step files (nlu_step,
// qa_step, lm_step, webhook_step, persistence). Internal to the engine: use SessionManager.
// Depends on sessions.h (deps, options), turn.h, shared/actor, shared/store.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "parley/v1/lm.pb.h"
#include "parley/v1/nlu.pb.h"
#include "parley/v1/qa.pb.h"
#include "services/dialog/engine/sessions.h"
#include "services/dialog/engine/turn.h"
#include "shared/actor/actor.h"
#include "shared/store/session_store.h"

namespace parley::dialog {

/// A turn to run (queued behind the running one, up to DialogOptions::max_queued_turns).
struct StartTurn {
  TurnInput input;
};
/// The store get at the start of a turn came back.
struct Loaded {
  std::shared_ptr<TurnRun> run;
  Result<store::Entry> entry;
  std::chrono::microseconds time;
};
/// NLU Parse came back.
struct Parsed {
  std::shared_ptr<TurnRun> run;
  Result<v1::ParseResponse> reply;
  CallInfo info;
};
/// The policy decided (on the policy executor, from a copy of the state it returns updated).
struct Decided {
  std::shared_ptr<TurnRun> run;
  Decision decision;
  v1::Session state;
  std::chrono::microseconds time;
};
/// QA Answer came back.
struct Answered {
  std::shared_ptr<TurnRun> run;
  Result<v1::AnswerResponse> reply;
  CallInfo info;
};
/// LM Generate ended (its tokens were streamed to the turn's TokenFn meanwhile).
struct Generated {
  std::shared_ptr<TurnRun> run;
  Result<v1::GenerateResponse> reply;
  CallInfo info;
  std::string reason;  ///< the GenerateStep's reason
};
/// An action webhook answered (or failed).
struct WebhookReplied {
  std::shared_ptr<TurnRun> run;
  Result<std::string> reply;
  CallInfo info;
  std::string action;
};
/// The store put (compare-and-set) at the end of a turn came back.
struct Stored {
  std::shared_ptr<TurnRun> run;
  Result<store::Version> version;
  std::chrono::microseconds time;
};

/// Stop the turn tagged `tag` and keep only `played_text` of its reply: while it runs, its LM
/// generation is cancelled and no further step runs; queued, it is dropped (CANCELLED); already
/// stored, its history entry is cut (a store write of its own, before the next turn).
struct InterruptTurn {
  std::uint64_t tag = 0;
  std::string played_text;
  std::string reason;  ///< "barge_in", "client"
};

using SessionMsg =
    std::variant<StartTurn, Loaded, Parsed, Answered, Generated, WebhookReplied, Stored, InterruptTurn, Decided>;

/// The actor. The turn's states (TurnPhase) and transitions:
///
///   StartTurn ─► (queued while a turn runs) ─► begin: store get ──Loaded──► adopt the state,
///   NLU Parse ──Parsed──► policy (decide, on the policy executor) ──Decided──► run_steps: each step is either immediate (say) or
///   one service call whose reply (Answered | Generated | WebhookReplied) resumes run_steps ─►
///   no steps left: record the turn, store put ──Stored──► reply, or re-run once on a conflict
///   (ABORTED) ─► the next queued turn.
///
/// InterruptTurn marks the running turn interrupted (its in-flight calls cancelled, the remaining
/// steps skipped, its messages cut to what was played before it is stored), drops a queued one,
/// or queues a cut of a stored one: a cut runs like a turn (store get ─Loaded─► cut the history
/// entry ─► store put ─Stored─►) ahead of the next queued turn.
///
/// Failures of a service become a fallback reply (the turn still answers); failures of the store
/// fail the turn (nothing was persisted).
class SessionActor final : public actor::Actor<SessionMsg> {
 public:
  SessionActor(std::string id, SessionDeps deps, DialogOptions options,
               std::shared_ptr<std::atomic<std::int64_t>> last_used);

  void receive(SessionMsg& msg) override;
  void on_stop() override;

 private:
  // ---- the state machine ----
  void begin(TurnInput input);
  void on_loaded(Loaded& m);
  void on_parsed(Parsed& m);
  void on_decided(Decided& m);
  void run_steps(TurnRun& run);
  void on_answered(Answered& m);
  void on_generated(Generated& m);
  void on_webhook(WebhookReplied& m);
  void finish(TurnRun& run);
  void on_stored(Stored& m);
  void fail_turn(TurnRun& run, Status status);
  void next();
  void on_interrupt(InterruptTurn& m);
  void begin_cut(CutRequest cut);
  void on_cut_loaded(TurnRun& run);
  void store_put(TurnRun& run);

  // ---- steps that call out (true: waiting for the reply) ----
  bool ask_kb(TurnRun& run);
  bool generate(TurnRun& run, const std::string& reason);
  bool call_webhook(TurnRun& run, const std::string& action);

  /// The reply `m` belongs to the running turn in the phase expected; otherwise it is dropped
  /// (and the turn it names, if any, answered INTERNAL).
  template <typename M>
  bool current(M& m, TurnPhase expected);
  TurnScope scope() { return TurnScope{id_, *state_, deps_.metrics}; }

  std::string id_;
  SessionDeps deps_;
  DialogOptions options_;
  std::shared_ptr<std::atomic<std::int64_t>> last_used_;
  std::optional<v1::Session> state_;
  std::shared_ptr<TurnRun> current_;
  std::deque<StartTurn> queued_;
  std::deque<CutRequest> cuts_;  ///< run before the next queued turn
  /// Tags of the last turns stored, with their numbers (an interruption may arrive just after).
  std::deque<std::pair<std::uint64_t, int>> recent_;
};

}  // namespace parley::dialog
