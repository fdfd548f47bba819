// Session actors and the session manager (see sessions.h). A turn is a small state machine run
// inside the session's actor: service replies and (with a store executor) store results come back
// as Resume messages, so handlers never block on the network.
// Depends on sessions.h, policy.h, shared/store, protobuf JSON utilities (webhook bodies).
#include "services/dialog/engine/sessions.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <deque>
#include <random>

#include "services/dialog/engine/policy.h"
#include "shared/common/log.h"

namespace parley::dialog {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

std::int64_t unix_ms() {
  return duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct StartTurn {
  std::string text;
  TokenFn on_token;
  TurnDone done;
  /// 1 when this is the re-run after a compare-and-set conflict (at most one per turn).
  int attempt = 0;
};
class SessionActor;
struct Resume {
  std::function<void(SessionActor&)> fn;
};
using SessionMsg = std::variant<StartTurn, Resume>;

v1::Status to_proto(const Status& s, const std::string& service) {
  v1::Status out;
  out.set_code(static_cast<v1::Status::Code>(static_cast<int>(s.code())));
  out.set_message(service + ": " + s.message());
  return out;
}

void add_timing(v1::TurnResponse& r, const std::string& stage, microseconds d) {
  auto* t = r.add_timings();
  t->set_stage(stage);
  t->set_duration_us(d.count());
}

/// One turn in progress.
struct TurnRun {
  StartTurn input;
  std::shared_ptr<const Bot> bot;
  v1::TurnResponse response;
  v1::Session before;  // the state as loaded, restored when the NLU failed
  Decision decision;
  std::size_t next_step = 0;
  Clock::time_point start;
  Deadline deadline;
  microseconds waited{0};  // service round trips, subtracted for the orchestrator's own time
  bool error = false;
};

class SessionActor final : public actor::Actor<SessionMsg> {
 public:
  SessionActor(std::string id, SessionDeps deps, DialogOptions options, std::shared_ptr<std::atomic<std::int64_t>> last_used)
      : id_(std::move(id)), deps_(std::move(deps)), options_(options), last_used_(std::move(last_used)) {}

  void receive(SessionMsg& msg) override {
    actor::match(
        msg,
        [&](StartTurn& m) {
          if (current_) {
            if (queued_.size() >= options_.max_queued_turns) {
              m.done(resource_exhausted("session '" + id_ + "' has " + std::to_string(queued_.size()) +
                                        " turns waiting; wait for the replies"));
              return;
            }
            queued_.push_back(std::move(m));
            return;
          }
          begin(std::move(m));
        },
        [&](Resume& m) { m.fn(*this); });
  }

  void on_stop() override {
    auto fail = [](StartTurn& t) { t.done(unavailable("session was closed")); };
    if (current_) fail(current_->input);
    current_.reset();
    for (auto& q : queued_) fail(q);
    queued_.clear();
  }

 private:
  // ---- turn lifecycle ----
  void begin(StartTurn input) {
    last_used_->store(Clock::now().time_since_epoch().count());
    auto run = std::make_shared<TurnRun>();
    run->start = Clock::now();
    run->deadline = run->start + options_.turn_timeout;
    run->input = std::move(input);
    current_ = run;
    run->response.set_session_id(id_);

    // Re-read the state: another replica may have taken the last turn (or deleted the session).
    store_call<store::Entry>(
        run, [store = deps_.store, id = id_] { return store->get(id); },
        [](SessionActor& a, TurnRun& r, Result<store::Entry> e, microseconds t) { a.on_loaded(r, std::move(e), t); });
  }

  /// Runs `op` (a store round trip) inline, or on the store executor with the result handed back
  /// to the actor as a message; `then` gets the result and the time the turn waited for it.
  template <typename T>
  void store_call(const std::shared_ptr<TurnRun>& run, std::function<Result<T>()> op,
                  std::function<void(SessionActor&, TurnRun&, Result<T>, microseconds)> then) {
    const auto start = Clock::now();
    if (deps_.store_executor == nullptr) {
      Result<T> r = op();
      return then(*this, *run, std::move(r), duration_cast<microseconds>(Clock::now() - start));
    }
    deps_.store_executor->post([self = self(), run, op = std::move(op), then = std::move(then), start]() mutable {
      auto r = std::make_shared<Result<T>>(op());
      resume(self, run, [run, r, then = std::move(then), start](SessionActor& a) mutable {
        then(a, *run, std::move(*r), duration_cast<microseconds>(Clock::now() - start));
      });
    });
  }

  /// Ends the current turn with an error (nothing was persisted) and starts the next queued one.
  void fail_turn(TurnRun& run, Status status) {
    auto done = std::move(run.input.done);
    current_.reset();
    done(std::move(status));
    next();
  }

  void on_loaded(TurnRun& run, Result<store::Entry> stored, microseconds store_time) {
    store_us_ = store_time;
    run.waited += store_time;
    if (!stored.ok()) {
      if (stored.status().code() == StatusCode::kNotFound) {
        state_.reset();
        return fail_turn(run, not_found("session '" + id_ + "' not found (deleted or expired)"));
      }
      count_service_error("store", stored.status());
      return fail_turn(run, unavailable("session store: " + stored.status().message()));
    }
    if (!state_ || state_->version() != stored->version) {
      v1::Session s;
      if (!s.ParseFromString(stored->value)) {
        return fail_turn(run, data_loss("session '" + id_ + "' is corrupt in the store"));
      }
      s.set_version(stored->version);
      state_ = std::move(s);
    }
    run.bot = deps_.find_bot(state_->bot_id());
    if (!run.bot) return fail_turn(run, failed_precondition("bot '" + state_->bot_id() + "' is not loaded"));
    run.before = *state_;
    if (run.input.attempt > 0) {
      auto* e = run.response.add_events();
      e->set_type("retry");
      e->set_name("store");
      e->set_detail("the session changed on another replica during the turn; the turn ran again on the new state");
    }

    v1::ParseRequest req;
    req.set_bot_id(run.bot->id);
    req.set_text(run.input.text);
    req.set_expected_slot(state_->requested_slot());
    auto shared = current_;
    deps_.services->parse(req, meta(run, options_.nlu_timeout),
                          [self = self(), shared](Result<v1::ParseResponse> r, CallInfo info) {
                            resume(self, shared, [shared, r = std::move(r), info](SessionActor& a) mutable {
                              a.on_parse(*shared, std::move(r), info);
                            });
                          });
  }

  CallMeta meta(const TurnRun& run, std::chrono::milliseconds timeout) const {
    return CallMeta{id_, "", std::min(run.deadline, Clock::now() + timeout)};
  }

  /// Hands a service reply back to the actor; if the actor is gone, the turn fails there.
  static void resume(const actor::ActorRef<SessionMsg>& self, const std::shared_ptr<TurnRun>& run,
                     std::function<void(SessionActor&)> fn) {
    Status s = self.tell(Resume{[run, fn = std::move(fn)](SessionActor& a) mutable {
      if (a.current_ != run) {
        run->input.done(internal_error("turn state lost (the session actor restarted)"));
        return;
      }
      fn(a);
    }});
    if (!s.is_ok()) run->input.done(Status(s.code(), "session actor: " + s.message()));
  }

  void on_parse(TurnRun& run, Result<v1::ParseResponse> parse, CallInfo info) {
    add_timing(run.response, "nlu", info.round_trip);
    if (info.service_time.count() > 0) add_timing(run.response, "nlu.service", info.service_time);
    observe("nlu", info.round_trip);
    run.waited += info.round_trip;
    if (!parse.ok()) {
      service_failed(run, "nlu", parse.status());
      if ((parse.status().code() == StatusCode::kNotFound || parse.status().code() == StatusCode::kFailedPrecondition) &&
          deps_.bot_needs_sync) {
        deps_.bot_needs_sync(run.bot->id);
      }
      return finish(run);
    }
    if (parse->intents_size() > 0) *run.response.mutable_intent() = parse->intents(0);
    for (const auto& s : parse->slots()) *run.response.add_slots() = s;
    const auto policy_start = Clock::now();
    run.decision = decide(*run.bot, *state_, *parse, run.input.text);
    const auto policy_time = duration_cast<microseconds>(Clock::now() - policy_start);
    add_timing(run.response, "policy", policy_time);
    observe("policy", policy_time);
    for (auto& e : run.decision.events) *run.response.add_events() = e;
    if (!run.decision.fallback_reason.empty() && deps_.metrics) {
      deps_.metrics->fallbacks.labels({run.decision.fallback_reason}).inc();
    }
    run_steps(run);
  }

  void service_failed(TurnRun& run, const std::string& service, const Status& status) {
    run.error = true;
    *run.response.add_errors() = to_proto(status, service);
    auto* e = run.response.add_events();
    e->set_type("error");
    e->set_name(service);
    e->set_value(std::string(status_code_name(status.code())));
    e->set_detail(status.message());
    count_service_error(service, status);
    say(run, kResponseServiceError, "error");
    PARLEY_LOG_EVERY_MS(kWarn, 1000).kv("session", id_).kv("service", service).kv("status", status.to_string())
        << "service call failed during a turn; answered with a fallback";
  }

  void count_service_error(const std::string& service, const Status& status) {
    if (deps_.metrics) deps_.metrics->service_errors.labels({service, status_code_name(status.code())}).inc();
  }

  void observe(const std::string& stage, microseconds d) {
    if (deps_.metrics) deps_.metrics->stage_duration.labels({stage}).observe(std::chrono::duration<double>(d).count());
  }

  void say(TurnRun& run, const std::string& response, const std::string& kind) {
    auto* m = run.response.add_messages();
    m->set_text(render_response(*run.bot, response, *state_, state_->turns()));
    m->set_kind(kind);
  }

  void run_steps(TurnRun& run) {
    while (run.next_step < run.decision.steps.size()) {
      Step& step = run.decision.steps[run.next_step++];
      bool waiting = std::visit(
          actor::Overloaded{
              [&](SayStep& s) {
                say(run, s.response, s.kind);
                return false;
              },
              [&](AnswerKbStep&) { return ask_kb(run); },
              [&](GenerateStep& g) { return generate(run, g.reason); },
              [&](WebhookStep& w) { return call_webhook(run, w.action); },
          },
          step);
      if (waiting) return;  // a service reply resumes run_steps
    }
    finish(run);
  }

  template <typename T>
  void call_back(TurnRun& run, Result<T> r, CallInfo info, const std::string& stage,
                 std::function<void(TurnRun&, Result<T>&)> handle) {
    add_timing(run.response, stage, info.round_trip);
    if (info.service_time.count() > 0) add_timing(run.response, stage + ".service", info.service_time);
    observe(stage, info.round_trip);
    run.waited += info.round_trip;
    handle(run, r);
    run_steps(run);
  }

  bool ask_kb(TurnRun& run) {
    const auto& kb = run.bot->knowledge_base;
    v1::AnswerRequest req;
    req.set_kb_id(run.bot->id);
    req.set_question(run.input.text);
    req.set_mode(kb.answer_mode == "generative" ? v1::GENERATIVE : v1::EXTRACTIVE);
    req.set_top_k(kb.top_k);
    req.set_min_score(kb.min_score);
    auto shared = current_;
    deps_.services->answer(req, meta(run, options_.qa_timeout),
                           [self = self(), shared](Result<v1::AnswerResponse> r, CallInfo info) {
                             resume(self, shared, [shared, r = std::move(r), info](SessionActor& a) mutable {
                               a.call_back<v1::AnswerResponse>(*shared, std::move(r), info, "qa",
                                                               [&a](TurnRun& t, Result<v1::AnswerResponse>& r) { a.on_answer(t, r); });
                             });
                           });
    return true;
  }

  void on_answer(TurnRun& run, Result<v1::AnswerResponse>& r) {
    if (!r.ok()) {
      service_failed(run, "qa", r.status());
      return;
    }
    if (!r->has_answer() || r->answer().empty()) {
      auto* e = run.response.add_events();
      e->set_type("fallback");
      e->set_name("kb_no_answer");
      if (deps_.metrics) deps_.metrics->fallbacks.labels({"kb_no_answer"}).inc();
      const auto& kb = run.bot->knowledge_base;
      if (!kb.no_answer.empty()) {
        say(run, kb.no_answer, "fallback");
      } else if (run.bot->lm_fallback.enabled) {
        run.decision.steps.insert(run.decision.steps.begin() + static_cast<long>(run.next_step), GenerateStep{"kb_no_answer"});
      } else {
        say(run, "kb_no_answer", "fallback");
      }
      return;
    }
    auto* m = run.response.add_messages();
    m->set_text(r->answer());
    m->set_kind("answer");
    // The best passages are the sources; the client shows where the answer came from.
    for (const auto& p : r->passages()) {
      *m->add_sources() = p;
      *run.response.add_sources() = p;
      if (m->sources_size() >= 3) break;
    }
  }

  bool generate(TurnRun& run, const std::string& reason) {
    const auto& lm = run.bot->lm_fallback;
    v1::GenerateRequest req;
    auto* msgs = req.mutable_messages();
    if (!lm.system_prompt.empty()) {
      auto* sys = msgs->add_messages();
      sys->set_role("system");
      sys->set_content(lm.system_prompt);
    }
    const int n = state_->history_size();
    for (int i = std::max(0, n - lm.history_turns); i < n; ++i) {
      const auto& t = state_->history(i);
      auto* u = msgs->add_messages();
      u->set_role("user");
      u->set_content(t.user_text());
      std::string said;
      for (const auto& m : t.messages()) said += (said.empty() ? "" : " ") + m.text();
      auto* a = msgs->add_messages();
      a->set_role("assistant");
      a->set_content(said);
    }
    auto* u = msgs->add_messages();
    u->set_role("user");
    u->set_content(run.input.text);
    req.mutable_params()->set_max_tokens(lm.max_tokens);
    req.mutable_params()->set_temperature(lm.temperature);
    // Small instruct models loop under greedy decoding ("a cat is a cat, a cat is ..."); the
    // usual llama.cpp-style penalty keeps fallback replies readable.
    req.mutable_params()->set_repetition_penalty(1.15f);
    auto shared = current_;
    TokenFn on_token = run.input.on_token;
    deps_.services->generate(
        req, meta(run, options_.lm_timeout),
        [on_token](const std::string& delta) {
          if (on_token) on_token(delta);
        },
        [self = self(), shared, reason](Result<v1::GenerateResponse> r, CallInfo info) {
          resume(self, shared, [shared, r = std::move(r), info, reason](SessionActor& a) mutable {
            a.call_back<v1::GenerateResponse>(*shared, std::move(r), info, "lm",
                                              [&a, reason](TurnRun& t, Result<v1::GenerateResponse>& r) {
                                                a.on_generated(t, r, reason);
                                              });
          });
        });
    return true;
  }

  void on_generated(TurnRun& run, Result<v1::GenerateResponse>& r, const std::string& reason) {
    if (!r.ok()) {
      service_failed(run, "lm", r.status());
      return;
    }
    std::string text = r->text_delta();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(text.begin());
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.empty()) {
      say(run, kResponseFallback, "fallback");
      return;
    }
    auto* m = run.response.add_messages();
    m->set_text(text);
    m->set_kind(reason == "rule" ? "generated" : "generated_fallback");
  }

  bool call_webhook(TurnRun& run, const std::string& action) {
    const WebhookDef* hook = run.bot->find_webhook(action);
    if (hook == nullptr) return false;
    auto shared = current_;
    deps_.services->webhook(*hook, webhook_body(run, action), meta(run, hook->timeout),
                            [self = self(), shared, action](Result<std::string> r, CallInfo info) {
                              resume(self, shared, [shared, r = std::move(r), info, action](SessionActor& a) mutable {
                                a.call_back<std::string>(*shared, std::move(r), info, "webhook",
                                                         [&a, action](TurnRun& t, Result<std::string>& r) {
                                                           a.on_webhook(t, r, action);
                                                         });
                              });
                            });
    return true;
  }

  /// The request body of a Rasa action server: next_action, sender_id, tracker (slots, latest
  /// message with intent and entities, active loop), domain.
  std::string webhook_body(const TurnRun& run, const std::string& action) const {
    google::protobuf::Struct body;
    auto& f = *body.mutable_fields();
    f["next_action"].set_string_value(action);
    f["sender_id"].set_string_value(id_);
    auto& tracker = *f["tracker"].mutable_struct_value()->mutable_fields();
    tracker["sender_id"].set_string_value(id_);
    auto& slots = *tracker["slots"].mutable_struct_value()->mutable_fields();
    for (const auto& [k, v] : state_->slots()) slots[k].set_string_value(v);
    auto& latest = *tracker["latest_message"].mutable_struct_value()->mutable_fields();
    latest["text"].set_string_value(run.input.text);
    auto& intent = *latest["intent"].mutable_struct_value()->mutable_fields();
    intent["name"].set_string_value(run.response.intent().name());
    intent["confidence"].set_number_value(run.response.intent().confidence());
    auto* entities = latest["entities"].mutable_list_value();
    for (const auto& s : run.response.slots()) {
      auto& e = *entities->add_values()->mutable_struct_value()->mutable_fields();
      e["entity"].set_string_value(s.slot());
      e["value"].set_string_value(s.value().empty() ? s.raw_value() : s.value());
      e["start"].set_number_value(s.start());
      e["end"].set_number_value(s.end());
    }
    tracker["active_loop"].mutable_struct_value();
    (*tracker["active_loop"].mutable_struct_value()->mutable_fields())["name"].set_string_value(state_->active_form());
    auto& domain = *f["domain"].mutable_struct_value()->mutable_fields();
    domain["bot_id"].set_string_value(run.bot->id);
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(body, &out);
    return out;
  }

  /// Applies a Rasa-style reply: {"events":[{"event":"slot","name":..,"value":..}],
  /// "responses":[{"text":..}]}.
  void on_webhook(TurnRun& run, Result<std::string>& r, const std::string& action) {
    if (!r.ok()) {
      if (deps_.metrics) {
        const char* reason = r.status().code() == StatusCode::kDeadlineExceeded ? "timeout"
                             : r.status().code() == StatusCode::kUnavailable     ? "connect"
                             : r.status().code() == StatusCode::kInvalidArgument ? "bad_response"
                                                                                 : "http_status";
        deps_.metrics->webhook_errors.labels({reason}).inc();
      }
      service_failed(run, "webhook " + action, r.status());
      return;
    }
    google::protobuf::Struct reply;
    if (!google::protobuf::util::JsonStringToMessage(*r, &reply).ok()) {
      if (deps_.metrics) deps_.metrics->webhook_errors.labels({"bad_response"}).inc();
      service_failed(run, "webhook " + action, invalid_argument("reply is not a JSON object"));
      return;
    }
    auto* ev = run.response.add_events();
    ev->set_type("webhook");
    ev->set_name(action);
    const auto& fields = reply.fields();
    if (auto it = fields.find("events"); it != fields.end() && it->second.has_list_value()) {
      for (const auto& e : it->second.list_value().values()) {
        if (!e.has_struct_value()) continue;
        const auto& ef = e.struct_value().fields();
        auto type = ef.find("event");
        auto name = ef.find("name");
        auto value = ef.find("value");
        if (type == ef.end() || type->second.string_value() != "slot" || name == ef.end()) continue;
        const std::string slot = name->second.string_value();
        if (run.bot->find_slot(slot) == nullptr) continue;
        if (value == ef.end() || value->second.has_null_value()) {
          state_->mutable_slots()->erase(slot);
        } else if (value->second.has_number_value()) {
          double v = value->second.number_value();
          (*state_->mutable_slots())[slot] = v == static_cast<long long>(v) ? std::to_string(static_cast<long long>(v))
                                                                            : std::to_string(v);
        } else {
          (*state_->mutable_slots())[slot] = value->second.string_value();
        }
      }
    }
    if (auto it = fields.find("responses"); it != fields.end() && it->second.has_list_value()) {
      for (const auto& m : it->second.list_value().values()) {
        if (!m.has_struct_value()) continue;
        auto text = m.struct_value().fields().find("text");
        if (text == m.struct_value().fields().end()) continue;
        auto* bm = run.response.add_messages();
        bm->set_text(text->second.string_value());
        bm->set_kind("response");
      }
    }
  }

  void finish(TurnRun& run) {
    v1::Session& s = *state_;
    if (run.error && run.decision.steps.empty()) {
      // The NLU failed: the policy did not run; keep the state exactly as it was.
      const auto version = s.version();
      s = run.before;
      s.set_version(version);
    }
    s.set_turns(s.turns() + 1);
    s.set_updated_at_unix_ms(unix_ms());
    auto* t = s.add_history();
    t->set_user_text(run.input.text);
    t->set_at_unix_ms(s.updated_at_unix_ms());
    t->set_intent(run.response.intent().name());
    for (const auto& m : run.response.messages()) *t->add_messages() = m;
    if (s.history_size() > options_.max_history) {
      s.mutable_history()->DeleteSubrange(0, s.history_size() - options_.max_history);
    }
    // Persist (compare-and-set on the version loaded at the start of the turn).
    v1::Session to_store = s;
    to_store.clear_version();
    const auto expected = s.version();
    store_call<store::Version>(
        current_,
        [store = deps_.store, id = id_, value = to_store.SerializeAsString(), expected, ttl = options_.session_ttl] {
          return store->put(id, value, expected, ttl);
        },
        [](SessionActor& a, TurnRun& r, Result<store::Version> v, microseconds t) { a.on_stored(r, std::move(v), t); });
  }

  void on_stored(TurnRun& run, Result<store::Version> put, microseconds put_time) {
    const auto store_time = put_time + store_us_;
    add_timing(run.response, "store", store_time);
    observe("store", store_time);
    run.waited += put_time;
    if (!put.ok()) {
      count_service_error("store", put.status());
      state_.reset();  // reload next turn
      if (put.status().code() == StatusCode::kAborted && run.input.attempt == 0) {
        // Another replica took a turn of this session meanwhile: run this turn again on its state
        // (tokens already streamed are not streamed twice; the reply carries the full text).
        PARLEY_LOG_EVERY_MS(kInfo, 1000).kv("session", id_) << "session changed concurrently; re-running the turn";
        StartTurn again = std::move(run.input);
        again.attempt = 1;
        again.on_token = nullptr;
        current_.reset();
        return begin(std::move(again));
      }
      if (put.status().code() == StatusCode::kAborted) {
        return fail_turn(run, Status(StatusCode::kAborted, "session '" + id_ + "' was changed by another request; retry the turn"));
      }
      // DEADLINE_EXCEEDED: the write may or may not have landed; the next turn re-reads either way.
      return fail_turn(run, unavailable("session store: " + put.status().message()));
    }
    v1::Session& s = *state_;
    s.set_version(*put);

    const std::string outcome = run.error ? "error" : run.decision.outcome;
    run.response.set_outcome(outcome);
    run.response.set_active_form(s.active_form());
    run.response.set_requested_slot(s.requested_slot());
    run.response.set_turn(s.turns());
    for (const auto& [k, v] : s.slots()) (*run.response.mutable_session_slots())[k] = v;
    const auto total = duration_cast<microseconds>(Clock::now() - run.start);
    const auto own = std::max(microseconds(0), total - run.waited);
    add_timing(run.response, "orchestrator", own);
    add_timing(run.response, "total", total);
    observe("orchestrator", own);
    observe("total", total);
    if (deps_.metrics) deps_.metrics->turns.labels({outcome}).inc();

    auto done = std::move(run.input.done);
    v1::TurnResponse response = std::move(run.response);
    current_.reset();
    done(std::move(response));
    next();
  }

  void next() {
    last_used_->store(Clock::now().time_since_epoch().count());
    if (current_ || queued_.empty()) return;
    StartTurn t = std::move(queued_.front());
    queued_.pop_front();
    begin(std::move(t));
  }

  std::string id_;
  SessionDeps deps_;
  DialogOptions options_;
  std::shared_ptr<std::atomic<std::int64_t>> last_used_;
  std::optional<v1::Session> state_;
  std::shared_ptr<TurnRun> current_;
  std::deque<StartTurn> queued_;
  microseconds store_us_{0};
};

}  // namespace

struct SessionManager::Entry {
  actor::ActorRef<SessionMsg> ref;
  std::shared_ptr<std::atomic<std::int64_t>> last_used = std::make_shared<std::atomic<std::int64_t>>(0);
};

std::string new_session_id() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int w = 0; w < 2; ++w) {
    std::uint64_t v = rng();
    for (int i = 0; i < 16; ++i) {
      id.push_back(kHex[v & 0xf]);
      v >>= 4;
    }
  }
  return id;
}

SessionManager::SessionManager(actor::ActorSystem& system, SessionDeps deps, DialogOptions options)
    : system_(system), deps_(std::move(deps)), options_(options) {}

SessionManager::~SessionManager() {
  std::lock_guard lock(mu_);
  for (auto& [id, e] : actors_) e->ref.stop();
  actors_.clear();
  if (deps_.metrics) deps_.metrics->active_sessions.set(0);
}

Result<v1::Session> SessionManager::create(const std::string& bot_id, const std::map<std::string, std::string>& metadata) {
  if (!deps_.find_bot(bot_id)) return not_found("bot '" + bot_id + "' is not loaded (see GET /v1/bots)");
  (void)metadata;
  v1::Session s;
  s.set_id(new_session_id());
  s.set_bot_id(bot_id);
  s.set_created_at_unix_ms(unix_ms());
  s.set_updated_at_unix_ms(s.created_at_unix_ms());
  auto put = deps_.store->put(s.id(), s.SerializeAsString(), store::kMustNotExist, options_.session_ttl);
  if (!put.ok()) return unavailable("session store: " + put.status().message());
  s.set_version(*put);
  if (deps_.metrics) deps_.metrics->sessions_created.inc();
  return s;
}

std::shared_ptr<SessionManager::Entry> SessionManager::entry_for(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = actors_.find(session_id);
  if (it != actors_.end() && it->second->ref.alive()) return it->second;
  auto e = std::make_shared<Entry>();
  e->last_used->store(Clock::now().time_since_epoch().count());
  SessionDeps deps = deps_;
  DialogOptions options = options_;
  auto last_used = e->last_used;
  e->ref = system_.spawn<SessionActor>(
      actor::ActorOptions{.name = "session", .mailbox_capacity = 256, .messages_per_turn = 32, .restart = {}},
      session_id, deps, options, last_used);
  actors_[session_id] = e;
  if (deps_.metrics) deps_.metrics->active_sessions.set(static_cast<double>(actors_.size()));
  return e;
}

void SessionManager::turn(const std::string& session_id, std::string text, TokenFn on_token, TurnDone done) {
  auto e = entry_for(session_id);
  // Exactly once, whatever races between a stopping actor and a late service reply.
  auto once = std::make_shared<std::pair<std::atomic<bool>, TurnDone>>();
  once->second = std::move(done);
  TurnDone guarded = [this, once, session_id](Result<v1::TurnResponse> r) {
    if (once->first.exchange(true)) return;
    // No such session (never created, deleted, expired): do not keep an actor for it.
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) forget(session_id);
    once->second(std::move(r));
  };
  Status s = e->ref.tell(StartTurn{std::move(text), std::move(on_token), guarded});
  if (!s.is_ok()) guarded(Status(s.code(), "session '" + session_id + "': " + s.message()));
}

Result<v1::Session> SessionManager::get(const std::string& session_id) {
  auto stored = deps_.store->get(session_id);
  if (!stored.ok() && stored.status().code() == StatusCode::kNotFound) {
    return not_found("session '" + session_id + "' not found (deleted or expired)");
  }
  if (!stored.ok()) return unavailable("session store: " + stored.status().message());
  v1::Session s;
  if (!s.ParseFromString(stored->value)) return data_loss("session '" + session_id + "' is corrupt in the store");
  s.set_version(stored->version);
  return s;
}

void SessionManager::forget(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = actors_.find(session_id);
  if (it != actors_.end()) {
    it->second->ref.stop();
    actors_.erase(it);
  }
  if (deps_.metrics) deps_.metrics->active_sessions.set(static_cast<double>(actors_.size()));
}

Status SessionManager::remove(const std::string& session_id) {
  forget(session_id);
  auto removed = deps_.store->remove(session_id);
  if (!removed.ok()) return unavailable("session store: " + removed.status().message());
  if (!*removed) return not_found("session '" + session_id + "' not found");
  return Status::ok();
}

std::size_t SessionManager::active() const {
  std::lock_guard lock(mu_);
  return actors_.size();
}

std::size_t SessionManager::evict_idle(std::chrono::milliseconds idle) {
  const auto cutoff = (Clock::now() - idle).time_since_epoch().count();
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto it = actors_.begin(); it != actors_.end();) {
    const bool busy = it->second->ref.stats().depth > 0;
    if (!busy && it->second->last_used->load() < cutoff) {
      it->second->ref.stop();
      it = actors_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  if (deps_.metrics) deps_.metrics->active_sessions.set(static_cast<double>(actors_.size()));
  return n;
}

}  // namespace parley::dialog
