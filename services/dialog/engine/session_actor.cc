// The session actor's turn state machine (see session_actor.h). Every transition of a turn is in
// this file; what a step sends and how its reply changes the turn is in the step files.
// Depends on session_actor.h, the step files, policy.h, shared/common/log.h.
#include "services/dialog/engine/session_actor.h"

#include "services/dialog/engine/interruption.h"
#include "services/dialog/engine/lm_step.h"
#include "services/dialog/engine/nlu_step.h"
#include "services/dialog/engine/persistence.h"
#include "services/dialog/engine/policy.h"
#include "services/dialog/engine/qa_step.h"
#include "services/dialog/engine/webhook_step.h"
#include "shared/common/log.h"

namespace parley::dialog {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

/// Tells `msg` (a reply message naming its turn) to the session actor; when the actor cannot take
/// it (stopped, mailbox full), the turn fails there and then.
template <typename M>
void deliver(const actor::ActorRef<SessionMsg>& self, M msg) {
  std::shared_ptr<TurnRun> run = msg.run;
  Status s = self.tell(std::move(msg));
  if (!s.is_ok()) run->input.done(Status(s.code(), "session actor: " + s.message()));
}

// A call that the turn's interruption cancelled: not a service failure.
template <typename T>
bool stopped_by_interruption(const TurnRun& run, const Result<T>& r) {
  return run.interrupted && !r.ok() && r.status().code() == StatusCode::kCancelled;
}

/// A Done<T> callback that comes back to the actor as message M{run, result, info, extra...}.
template <typename M, typename T, typename... Extra>
Done<T> reply_to(actor::ActorRef<SessionMsg> self, std::shared_ptr<TurnRun> run, Extra... extra) {
  return [self = std::move(self), run = std::move(run), extra...](Result<T> r, CallInfo info) {
    deliver(self, M{run, std::move(r), info, extra...});
  };
}

}  // namespace

SessionActor::SessionActor(std::string id, SessionDeps deps, DialogOptions options,
                           std::shared_ptr<std::atomic<std::int64_t>> last_used)
    : id_(std::move(id)), deps_(std::move(deps)), options_(options), last_used_(std::move(last_used)) {}

void SessionActor::receive(SessionMsg& msg) {
  actor::match(
      msg,
      [&](StartTurn& m) {
        if (current_) {
          if (queued_.size() >= options_.max_queued_turns) {
            m.input.done(resource_exhausted("session '" + id_ + "' has " + std::to_string(queued_.size()) +
                                            " turns waiting; wait for the replies"));
            return;
          }
          queued_.push_back(std::move(m));
          return;
        }
        begin(std::move(m.input));
      },
      [&](Loaded& m) {
        if (current(m, TurnPhase::kLoading)) on_loaded(m);
      },
      [&](Parsed& m) {
        if (current(m, TurnPhase::kParsing)) on_parsed(m);
      },
      [&](Answered& m) {
        if (current(m, TurnPhase::kStep)) on_answered(m);
      },
      [&](Generated& m) {
        if (current(m, TurnPhase::kStep)) on_generated(m);
      },
      [&](WebhookReplied& m) {
        if (current(m, TurnPhase::kStep)) on_webhook(m);
      },
      [&](Stored& m) {
        if (current(m, TurnPhase::kStoring)) on_stored(m);
      },
      [&](InterruptTurn& m) { on_interrupt(m); },
      [&](Decided& m) {
        if (current(m, TurnPhase::kDeciding)) on_decided(m);
      });
}

void SessionActor::on_stop() {
  auto fail = [](TurnInput& t) { t.done(unavailable("session was closed")); };
  if (current_) fail(current_->input);
  current_.reset();
  for (auto& q : queued_) fail(q.input);
  queued_.clear();
}

template <typename M>
bool SessionActor::current(M& m, TurnPhase expected) {
  if (m.run != current_) {
    // Only after a restart of this actor (its state was rebuilt): the turn cannot continue.
    m.run->input.done(internal_error("turn state lost (the session actor restarted)"));
    return false;
  }
  if (m.run->phase != expected) {
    PARLEY_BUG() << "session " << id_ << ": a reply arrived in turn phase " << static_cast<int>(m.run->phase)
                 << ", expected " << static_cast<int>(expected);
    return false;
  }
  return true;
}

// ---- the state machine ----------------------------------------------------------------------

void SessionActor::begin(TurnInput input) {
  last_used_->store(Clock::now().time_since_epoch().count());
  auto run = std::make_shared<TurnRun>();
  run->start = Clock::now();
  run->deadline = run->start + options_.turn_timeout;
  run->input = std::move(input);
  run->phase = TurnPhase::kLoading;
  run->response.set_session_id(id_);
  current_ = run;

  // Re-read the state: another replica may have taken the last turn (or deleted the session).
  const bool inline_store = deps_.store_executor == nullptr;
  run_store_op<store::Entry>(
      deps_.store_executor, [store = deps_.store, id = id_] { return store->get(id); },
      [this, inline_store, self = self(), run](Result<store::Entry> e, microseconds t) {
        Loaded m{run, std::move(e), t};
        if (inline_store) return on_loaded(m);  // still inside this handler
        deliver(self, std::move(m));
      });
}

void SessionActor::on_loaded(Loaded& m) {
  TurnRun& run = *m.run;
  run.load_time = m.time;
  run.waited += m.time;
  Status adopted = adopt_stored(state_, m.entry, id_);
  if (!adopted.is_ok()) {
    if (adopted.code() == StatusCode::kUnavailable) count_service_error(deps_.metrics, "store", m.entry.status());
    return fail_turn(run, adopted);
  }
  if (run.cut) return on_cut_loaded(run);
  if (run.input.tenant && state_->tenant() != *run.input.tenant) {
    return fail_turn(run, permission_denied("session '" + id_ + "' belongs to another tenant"));
  }
  run.bot = deps_.find_bot(state_->bot_id());
  // The session outlived its bot (DELETE /v1/bots/{bot}): what the turn needs is gone, 404.
  if (!run.bot) return fail_turn(run, not_found("this session's bot '" + state_->bot_id() + "' is no longer loaded"));
  run.before = *state_;
  if (run.input.attempt > 0) {
    auto* e = run.response.add_events();
    e->set_type("retry");
    e->set_name("store");
    e->set_detail("the session changed on another replica during the turn; the turn ran again on the new state");
  }
  run.phase = TurnPhase::kParsing;
  deps_.services->parse(parse_request(run, *state_), call_meta(run, id_, options_.nlu_timeout),
                        reply_to<Parsed, v1::ParseResponse>(self(), m.run));
}

void SessionActor::on_parsed(Parsed& m) {
  TurnRun& run = *m.run;
  if (stopped_by_interruption(run, m.reply)) {
    // Interrupted before the NLU answered: nothing was decided, nothing was said.
    record_call(run, deps_.metrics, "nlu", m.info);
    return finish(run);
  }
  if (!apply_parse(run, scope(), m.reply, m.info, deps_.bot_needs_sync)) return finish(run);
  run.phase = TurnPhase::kDeciding;
  if (deps_.policy_executor == nullptr) {
    const auto start = Clock::now();
    Decided d{m.run, decide(*run.bot, *state_, *m.reply, run.input.text), {}, {}};
    d.time = duration_cast<microseconds>(Clock::now() - start);
    d.state = std::move(*state_);
    return on_decided(d);
  }
  // The bot's patterns run off the actor threads, on a copy of the state (the actor waits for
  // the decision and touches nothing of the session meanwhile).
  deps_.policy_executor->post([self = self(), run = m.run, bot = run.bot, state = *state_,
                               parse = std::move(*m.reply)]() mutable {
    const auto start = Clock::now();
    Decision decision = decide(*bot, state, parse, run->input.text);
    deliver(self, Decided{run, std::move(decision), std::move(state), duration_cast<microseconds>(Clock::now() - start)});
  });
}

void SessionActor::on_decided(Decided& m) {
  TurnRun& run = *m.run;
  *state_ = std::move(m.state);
  run.decision = std::move(m.decision);
  add_timing(run.response, "policy", m.time);
  observe_stage(deps_.metrics, "policy", m.time);
  if (Clock::now() >= run.deadline) {
    // The caller has given up: nothing more is started for this turn.
    return fail_turn(run, deadline_exceeded("turn deadline passed in the policy"));
  }
  for (auto& e : run.decision.events) *run.response.add_events() = e;
  if (!run.decision.fallback_reason.empty() && deps_.metrics) {
    deps_.metrics->fallbacks.labels({run.decision.fallback_reason}).inc();
  }
  run_steps(run);
}

void SessionActor::run_steps(TurnRun& run) {
  run.phase = TurnPhase::kStep;  // a step's reply message resumes run_steps
  while (run.next_step < run.decision.steps.size() && !run.interrupted) {
    Step& step = run.decision.steps[run.next_step++];
    bool waiting = std::visit(actor::Overloaded{
                                  [&](SayStep& s) {
                                    say(run, *state_, s.response, s.kind);
                                    return false;
                                  },
                                  [&](AnswerKbStep&) { return ask_kb(run); },
                                  [&](GenerateStep& g) { return generate(run, g.reason); },
                                  [&](WebhookStep& w) { return call_webhook(run, w.action); },
                              },
                              step);
    if (waiting) return;
  }
  finish(run);
}

void SessionActor::on_answered(Answered& m) {
  record_call(*m.run, deps_.metrics, "qa", m.info);
  if (!stopped_by_interruption(*m.run, m.reply)) apply_answer(*m.run, scope(), m.reply);
  run_steps(*m.run);
}

void SessionActor::on_generated(Generated& m) {
  record_call(*m.run, deps_.metrics, "lm", m.info);
  if (stopped_by_interruption(*m.run, m.reply)) {
    m.run->pending_kind = m.reason == "rule" ? "generated" : "generated_fallback";
  } else {
    apply_generated(*m.run, scope(), m.reply, m.reason);
  }
  run_steps(*m.run);
}

void SessionActor::on_webhook(WebhookReplied& m) {
  record_call(*m.run, deps_.metrics, "webhook", m.info);
  if (!stopped_by_interruption(*m.run, m.reply)) apply_webhook_reply(*m.run, scope(), m.reply, m.action);
  run_steps(*m.run);
}

void SessionActor::finish(TurnRun& run) {
  if (run.interrupted) {
    // Keep what the user heard: the reply cut to the played text.
    auto kept = cut_to_played(run.response.messages(), run.played_text, run.pending_kind);
    run.response.clear_messages();
    for (auto& k : kept) *run.response.add_messages() = std::move(k);
    auto* e = run.response.add_events();
    e->set_type("interrupted");
    e->set_name(run.interrupt_reason);
    e->set_detail("the reply was stopped; it holds the " + std::to_string(normalize_spaces(run.played_text).size()) +
                  " characters that were played");
    run.cut_applied = true;
  }
  record_turn(*state_, run, options_.max_history);
  store_put(run);
}

void SessionActor::store_put(TurnRun& run) {
  run.phase = TurnPhase::kStoring;
  // Persist (compare-and-set on the version loaded at the start of the turn).
  const bool inline_store = deps_.store_executor == nullptr;
  run_store_op<store::Version>(
      deps_.store_executor,
      [store = deps_.store, id = id_, value = stored_value(*state_), expected = state_->version(),
       ttl = options_.session_ttl] { return store->put(id, value, expected, ttl); },
      [this, inline_store, self = self(), run = current_](Result<store::Version> v, microseconds t) {
        Stored m{run, std::move(v), t};
        if (inline_store) return on_stored(m);  // still inside this handler
        deliver(self, std::move(m));
      });
}

void SessionActor::on_stored(Stored& m) {
  TurnRun& run = *m.run;
  if (run.cut) {
    if (m.version.ok()) {
      state_->set_version(*m.version);
    } else {
      count_service_error(deps_.metrics, "store", m.version.status());
      state_.reset();
      if (m.version.status().code() == StatusCode::kAborted && run.cut->attempt == 0) {
        CutRequest again = *run.cut;
        again.attempt = 1;
        current_.reset();
        cuts_.push_front(std::move(again));  // once more, on the other replica's state
        return next();
      }
      PARLEY_LOG_EVERY_MS(kWarn, 1000).kv("session", id_).kv("status", m.version.status().to_string())
          << "could not store the cut of an interrupted reply";
    }
    current_.reset();
    return next();
  }
  const auto store_time = m.time + run.load_time;
  add_timing(run.response, "store", store_time);
  observe_stage(deps_.metrics, "store", store_time);
  run.waited += m.time;
  if (!m.version.ok()) {
    const Status& put = m.version.status();
    count_service_error(deps_.metrics, "store", put);
    state_.reset();  // reload next turn
    if (put.code() == StatusCode::kAborted && run.input.attempt == 0) {
      // Another replica took a turn of this session meanwhile: run this turn again on its state
      // (tokens already streamed are not streamed twice; the reply carries the full text).
      PARLEY_LOG_EVERY_MS(kInfo, 1000).kv("session", id_) << "session changed concurrently; re-running the turn";
      TurnInput again = std::move(run.input);
      again.attempt = 1;
      again.on_token = nullptr;
      current_.reset();
      return begin(std::move(again));
    }
    if (put.code() == StatusCode::kAborted) {
      return fail_turn(run, Status(StatusCode::kAborted, "session '" + id_ + "' was changed by another request; retry the turn"));
    }
    // DEADLINE_EXCEEDED: the write may or may not have landed; the next turn re-reads either way.
    return fail_turn(run, unavailable("session store: " + put.message()));
  }
  state_->set_version(*m.version);
  complete_response(run, *state_, deps_.metrics);
  if (run.input.tag != 0) {
    recent_.emplace_back(run.input.tag, state_->turns());
    if (recent_.size() > 8) recent_.pop_front();
    // Interrupted while its put was in flight: the stored reply is cut by a write of its own.
    if (run.interrupted && !run.cut_applied) {
      cuts_.push_back(CutRequest{state_->turns(), run.played_text, run.interrupt_reason});
    }
  }
  auto done = std::move(run.input.done);
  v1::TurnResponse response = std::move(run.response);
  current_.reset();
  done(std::move(response));
  next();
}

void SessionActor::fail_turn(TurnRun& run, Status status) {
  auto done = std::move(run.input.done);
  current_.reset();
  done(std::move(status));
  next();
}

void SessionActor::next() {
  last_used_->store(Clock::now().time_since_epoch().count());
  if (current_) return;
  if (!cuts_.empty()) {
    CutRequest cut = std::move(cuts_.front());
    cuts_.pop_front();
    return begin_cut(std::move(cut));
  }
  if (queued_.empty()) return;
  StartTurn t = std::move(queued_.front());
  queued_.pop_front();
  begin(std::move(t.input));
}

// ---- interruptions ----------------------------------------------------------------------------

void SessionActor::on_interrupt(InterruptTurn& m) {
  if (m.tag == 0) return;
  if (current_ && !current_->cut && current_->input.tag == m.tag) {
    TurnRun& run = *current_;
    if (run.interrupted) return;
    run.interrupted = true;
    run.played_text = std::move(m.played_text);
    run.interrupt_reason = std::move(m.reason);
    run.cancel->cancel();  // an LM generation in flight stops; its reply comes back CANCELLED
    return;
  }
  for (auto it = queued_.begin(); it != queued_.end(); ++it) {
    if (it->input.tag != m.tag) continue;
    auto done = std::move(it->input.done);
    queued_.erase(it);
    done(cancelled("the turn was interrupted before it started"));
    return;
  }
  for (const auto& [tag, turn] : recent_) {
    if (tag != m.tag) continue;
    cuts_.push_back(CutRequest{turn, std::move(m.played_text), std::move(m.reason)});
    return next();
  }
  PARLEY_LOG(kDebug) << "session " << id_ << ": interruption of an unknown turn; nothing to cut";
}

void SessionActor::begin_cut(CutRequest cut) {
  auto run = std::make_shared<TurnRun>();
  run->start = Clock::now();
  run->deadline = run->start + options_.turn_timeout;
  run->input.done = [](Result<v1::TurnResponse>) {};
  run->cut = std::move(cut);
  run->phase = TurnPhase::kLoading;
  current_ = run;
  const bool inline_store = deps_.store_executor == nullptr;
  run_store_op<store::Entry>(
      deps_.store_executor, [store = deps_.store, id = id_] { return store->get(id); },
      [this, inline_store, self = self(), run](Result<store::Entry> e, microseconds t) {
        Loaded m{run, std::move(e), t};
        if (inline_store) return on_loaded(m);
        deliver(self, std::move(m));
      });
}

void SessionActor::on_cut_loaded(TurnRun& run) {
  const CutRequest& cut = *run.cut;
  v1::Session& s = *state_;
  const int index = s.history_size() - 1 - (s.turns() - cut.turn);
  if (index < 0 || index >= s.history_size() || s.history(index).interrupted()) {
    current_.reset();  // trimmed from the history, or cut already: nothing to do
    return next();
  }
  v1::Turn* t = s.mutable_history(index);
  auto kept = cut_to_played(t->messages(), cut.played_text, "");
  t->clear_messages();
  for (auto& k : kept) *t->add_messages() = std::move(k);
  t->set_interrupted(true);
  store_put(run);
}

// ---- steps that call out ----------------------------------------------------------------------

bool SessionActor::ask_kb(TurnRun& run) {
  deps_.services->answer(answer_request(run), call_meta(run, id_, options_.qa_timeout),
                         reply_to<Answered, v1::AnswerResponse>(self(), current_));
  return true;
}

bool SessionActor::generate(TurnRun& run, const std::string& reason) {
  TokenFn on_token = run.input.on_token;
  deps_.services->generate(
      generate_request(run, *state_), call_meta(run, id_, options_.lm_timeout),
      [on_token](const std::string& delta) {
        if (on_token) on_token(delta);
      },
      reply_to<Generated, v1::GenerateResponse>(self(), current_, reason));
  return true;
}

bool SessionActor::call_webhook(TurnRun& run, const std::string& action) {
  const WebhookDef* hook = run.bot->find_webhook(action);
  if (hook == nullptr) return false;
  deps_.services->webhook(*hook, webhook_body(run, scope(), action), call_meta(run, id_, hook->timeout),
                          reply_to<WebhookReplied, std::string>(self(), current_, action));
  return true;
}

}  // namespace parley::dialog
