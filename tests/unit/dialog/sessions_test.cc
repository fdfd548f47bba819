// Session actors end to end against in-process fakes, deterministically (manual executor and
// clock; the fakes reply inline): the booking conversation, a KB question with its source, the
// LM fallback (streamed), services down (fallback + error event, session intact), webhooks,
// two managers sharing one store (replicas taking turns), a concurrent write on another replica
// (the turn re-runs once), store round trips on a store executor, and session TTL expiry.
#include <gtest/gtest.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <array>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "services/dialog/bot/loader.h"
#include "services/dialog/engine/sessions.h"
#include "services/dialog/testing/fake_services.h"
#include "shared/actor/executor.h"
#include "shared/actor/timer.h"
#include "shared/store/memory_store.h"

namespace parley::dialog {
namespace {

using testing::FakeServices;

/// A MemoryStore whose puts can run a hook first (another replica writing in between).
class HookedStore final : public store::SessionStore {
 public:
  explicit HookedStore(store::MemoryStoreOptions o = {}) : inner_(std::move(o)) {}
  Result<store::Entry> get(std::string_view key) override { return inner_.get(key); }
  Result<store::Version> put(std::string_view key, std::string_view value, store::Version expected,
                             std::chrono::milliseconds ttl) override {
    ++puts;
    if (before_put) before_put(std::string(key));
    return inner_.put(key, value, expected, ttl);
  }
  Result<bool> remove(std::string_view key) override { return inner_.remove(key); }
  Result<std::size_t> count() override { return inner_.count(); }
  Result<std::vector<std::string>> list(std::size_t limit) override { return inner_.list(limit); }
  Status health() override { return Status::ok(); }
  std::string describe() const override { return "hooked memory"; }

  std::function<void(const std::string& key)> before_put;
  int puts = 0;
  store::MemoryStore inner_;
};

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = load_bot_file(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    bot_ = r.bot;
    ASSERT_TRUE(services_.train(bot_->train_request(), std::chrono::seconds(1)).ok());
    v1::IngestRequest ingest;
    ingest.set_kb_id("demo");
    for (const auto& d : bot_->knowledge_base.documents) {
      auto* doc = ingest.add_documents();
      doc->set_id(d.id);
      doc->set_title(d.title);
      doc->set_text(d.text);
    }
    ASSERT_TRUE(services_.ingest(ingest, std::chrono::seconds(1)).ok());
    sessions_ = make_manager(store_);
  }

  std::unique_ptr<SessionManager> make_manager(store::SessionStore& store, actor::Executor* store_executor = nullptr,
                                               DialogOptions options = {}) {
    SessionDeps deps;
    deps.find_bot = [this](const std::string& id) -> std::shared_ptr<const Bot> {
      if (id == bot_->id) return bot_;
      if (other_bot_ && id == other_bot_->id) return other_bot_;
      return nullptr;
    };
    deps.bot_needs_sync = [this](const std::string& id) { resync_.push_back(id); };
    deps.services = &services_;
    deps.store = &store;
    deps.store_executor = store_executor;
    return std::make_unique<SessionManager>(system_, deps, options);
  }

  std::string new_session(const std::string& bot = "demo") {
    auto s = sessions_->create(bot, {});
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? s->id() : "";
  }

  Result<v1::TurnResponse> say(const std::string& id, const std::string& text, SessionManager* m = nullptr,
                               std::vector<std::string>* tokens = nullptr) {
    std::optional<Result<v1::TurnResponse>> out;
    TokenFn on_token;
    if (tokens) on_token = [tokens](const std::string& t) { tokens->push_back(t); };
    (m ? m : sessions_.get())->turn(id, text, on_token, [&](Result<v1::TurnResponse> r) { out = std::move(r); });
    executor_.run_all();
    EXPECT_TRUE(out.has_value()) << "turn did not complete";
    if (!out) return internal_error("no reply");
    return std::move(*out);
  }

  static std::string texts(const v1::TurnResponse& r) {
    std::string s;
    for (const auto& m : r.messages()) s += (s.empty() ? "" : " | ") + m.text();
    return s;
  }
  static bool has_event(const v1::TurnResponse& r, const std::string& type) {
    for (const auto& e : r.events()) {
      if (e.type() == type) return true;
    }
    return false;
  }

  actor::ManualExecutor executor_;
  actor::ManualClock clock_;
  actor::ActorSystem system_{executor_, clock_};
  FakeServices services_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
  HookedStore store_{{.clock = [this] { return now_; }}};
  std::shared_ptr<const Bot> bot_, other_bot_;
  std::vector<std::string> resync_;
  std::unique_ptr<SessionManager> sessions_;
};

TEST_F(SessionsTest, TableBookingWithCorrectionAndConfirmation) {
  std::string id = new_session();
  auto r = say(id, "reserve a table for 4");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->intent().name(), "book_table");
  EXPECT_EQ(r->active_form(), "table_booking");
  EXPECT_EQ(r->requested_slot(), "time");
  EXPECT_EQ(texts(*r), "What time would you like the table?");
  EXPECT_EQ(r->messages(0).kind(), "slot_prompt");

  r = say(id, "at 8pm");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "A table for 4 at 8pm — shall I book it?");

  r = say(id, "make it 6");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "A table for 6 at 8pm — shall I book it?");
  EXPECT_EQ(r->session_slots().at("party_size"), "6");

  r = say(id, "yes");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "Done! Your table for 6 at 8pm is booked.");
  EXPECT_EQ(r->active_form(), "");
  EXPECT_TRUE(has_event(*r, "form_completed"));
  EXPECT_EQ(r->outcome(), "ok");
  EXPECT_EQ(r->turn(), 4);

  auto s = sessions_->get(id);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->turns(), 4);
  EXPECT_EQ(s->history_size(), 4);
  EXPECT_EQ(s->history(3).user_text(), "yes");
}

TEST_F(SessionsTest, TwoSlotsInOneUtteranceThenOneAskedFor) {
  std::string id = new_session();
  auto r = say(id, "I need a double room for 3 nights");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->session_slots().at("room_type"), "double");
  EXPECT_EQ(r->session_slots().at("nights"), "3");
  EXPECT_EQ(r->requested_slot(), "date");
  EXPECT_EQ(texts(*r), "From which date?");
  r = say(id, "starting monday");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "A double room for 3 nights from monday — shall I book it?");
  r = say(id, "yes please");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "Done! Your double room from monday for 3 nights is booked.");
}

TEST_F(SessionsTest, KnowledgeBaseAnswerCarriesItsSource) {
  std::string id = new_session();
  auto r = say(id, "what time is breakfast");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->intent().name(), "ask_hotel");
  ASSERT_EQ(r->messages_size(), 1);
  EXPECT_EQ(r->messages(0).kind(), "answer");
  EXPECT_NE(r->messages(0).text().find("Breakfast is served"), std::string::npos) << texts(*r);
  ASSERT_GE(r->sources_size(), 1);
  EXPECT_EQ(r->sources(0).document_id(), "dining");
  EXPECT_EQ(r->sources(0).title(), "Dining");
  EXPECT_EQ(services_.answer_calls, 1);
}

TEST_F(SessionsTest, DigressionInsideAFormResumesTheForm) {
  std::string id = new_session();
  ASSERT_TRUE(say(id, "reserve a table for 2").ok());
  auto r = say(id, "is there wifi");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->messages_size(), 2) << texts(*r);
  EXPECT_EQ(r->messages(0).kind(), "answer");
  EXPECT_NE(r->messages(0).text().find("Wi-Fi"), std::string::npos);
  EXPECT_EQ(r->messages(1).text(), "What time would you like the table?");
  EXPECT_EQ(r->active_form(), "table_booking");
}

TEST_F(SessionsTest, OutOfScopeGoesToTheLmAndStreamsTokens) {
  std::string id = new_session();
  std::vector<std::string> tokens;
  auto r = say(id, "tell me a joke about penguins", nullptr, &tokens);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome(), "fallback");
  ASSERT_EQ(r->messages_size(), 1);
  EXPECT_EQ(r->messages(0).kind(), "generated_fallback");
  std::string joined;
  for (const auto& t : tokens) joined += t;
  EXPECT_EQ(joined, r->messages(0).text());
  EXPECT_GT(tokens.size(), 3u);
  // The LM got the bot's system prompt first and the user's text last.
  const auto& msgs = services_.last_generate.messages().messages();
  ASSERT_GE(msgs.size(), 2);
  EXPECT_EQ(msgs[0].role(), "system");
  EXPECT_NE(msgs[0].content().find("Parley Hotel"), std::string::npos);
  EXPECT_EQ(msgs[msgs.size() - 1].content(), "tell me a joke about penguins");
  EXPECT_EQ(services_.last_generate.params().max_tokens(), 48);
}

TEST_F(SessionsTest, NluDownGivesAFallbackAndTheSessionSurvives) {
  std::string id = new_session();
  ASSERT_TRUE(say(id, "reserve a table for 4").ok());
  services_.nlu_down = true;
  auto r = say(id, "at 9pm");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->outcome(), "error");
  ASSERT_EQ(r->messages_size(), 1);
  EXPECT_EQ(r->messages(0).kind(), "error");
  EXPECT_NE(r->messages(0).text().find("trouble"), std::string::npos);
  ASSERT_EQ(r->errors_size(), 1);
  EXPECT_EQ(r->errors(0).code(), v1::Status::UNAVAILABLE);
  EXPECT_NE(r->errors(0).message().find("nlu"), std::string::npos);
  EXPECT_TRUE(has_event(*r, "error"));
  EXPECT_EQ(r->active_form(), "table_booking");          // the form is still there
  EXPECT_EQ(r->session_slots().at("party_size"), "4");   // and its slot
  services_.nlu_down = false;
  r = say(id, "at 9pm");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "A table for 4 at 9pm — shall I book it?");
}

TEST_F(SessionsTest, QaAndLmDownAreReportedPerService) {
  std::string id = new_session();
  services_.qa_down = true;
  auto r = say(id, "do you have a pool");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome(), "error");
  ASSERT_EQ(r->errors_size(), 1);
  EXPECT_EQ(r->errors(0).code(), v1::Status::DEADLINE_EXCEEDED);
  EXPECT_NE(r->errors(0).message().find("qa:"), std::string::npos);
  services_.lm_down = true;
  r = say(id, "sing me a song about the sea");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->messages(0).kind(), "error");
  EXPECT_NE(r->errors(0).message().find("lm:"), std::string::npos);
}

TEST_F(SessionsTest, UnknownAndDeletedSessions) {
  auto r = say("nope", "hello");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  std::string id = new_session();
  ASSERT_TRUE(say(id, "hello").ok());
  EXPECT_EQ(sessions_->active(), 1u);
  EXPECT_TRUE(sessions_->remove(id).is_ok());
  EXPECT_EQ(sessions_->active(), 0u);
  EXPECT_EQ(say(id, "hello").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sessions_->remove(id).code(), StatusCode::kNotFound);
  EXPECT_EQ(sessions_->create("no_such_bot", {}).status().code(), StatusCode::kNotFound);
}

TEST_F(SessionsTest, NluThatForgotTheBotTriggersAResync) {
  std::string id = new_session();
  services_.nlu.drop("demo");
  auto r = say(id, "hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome(), "error");
  ASSERT_EQ(resync_.size(), 1u);
  EXPECT_EQ(resync_[0], "demo");
}

TEST_F(SessionsTest, ReplicasSharingAStoreTakeTurns) {
  // Two managers (two orchestrator replicas) over one store: the conversation alternates.
  auto other = make_manager(store_);
  std::string id = new_session();
  ASSERT_TRUE(say(id, "reserve a table for 4", sessions_.get()).ok());
  auto r = say(id, "at 7pm", other.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "A table for 4 at 7pm — shall I book it?");
  r = say(id, "make it 5", sessions_.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "A table for 5 at 7pm — shall I book it?");
  r = say(id, "yes", other.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(texts(*r), "Done! Your table for 5 at 7pm is booked.");
  EXPECT_EQ(r->turn(), 4);
}

TEST_F(SessionsTest, WebhookActionSetsSlotsAndSpeaks) {
  const char* yaml = R"(bot: {id: hooks}
slots:
  code: {type: text}
intents:
  check: [check my booking, booking status]
  greet: [hello, hi]
responses:
  hi: [Hi]
actions:
  lookup: {url: "http://127.0.0.1:1/webhook", timeout_ms: 500}
rules:
  - {intent: check, actions: [lookup]}
  - {intent: greet, actions: [hi]}
)";
  auto loaded = parse_bot(yaml, "hooks.yaml", "");
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  other_bot_ = loaded.bot;
  ASSERT_TRUE(services_.train(other_bot_->train_request(), std::chrono::seconds(1)).ok());
  std::string body_seen;
  services_.on_webhook = [&](const std::string& url, const std::string& body) -> Result<std::string> {
    EXPECT_EQ(url, "http://127.0.0.1:1/webhook");
    body_seen = body;
    return std::string(R"({"events":[{"event":"slot","name":"code","value":"AB12"}],"responses":[{"text":"Booking AB12 is confirmed."}]})");
  };
  std::string id = new_session("hooks");
  auto r = say(id, "check my booking");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(texts(*r), "Booking AB12 is confirmed.");
  EXPECT_EQ(r->session_slots().at("code"), "AB12");
  google::protobuf::Struct body;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(body_seen, &body).ok()) << body_seen;
  EXPECT_EQ(body.fields().at("next_action").string_value(), "lookup");
  EXPECT_EQ(body.fields().at("sender_id").string_value(), id);
  EXPECT_EQ(body.fields().at("tracker").struct_value().fields().at("latest_message").struct_value().fields().at("text").string_value(),
            "check my booking");
  // A failing webhook: an error message and event, the turn still answers.
  services_.on_webhook = [](const std::string&, const std::string&) -> Result<std::string> {
    return deadline_exceeded("webhook did not answer within 500 ms");
  };
  r = say(id, "check my booking");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome(), "error");
  EXPECT_NE(r->errors(0).message().find("webhook lookup"), std::string::npos);
}

}  // namespace
}  // namespace parley::dialog

namespace parley::dialog {
namespace {

/// Writes a new version of the session as another replica would (sets a slot, one more turn).
void write_as_other_replica(store::SessionStore& store, const std::string& id, const std::string& slot,
                            const std::string& value) {
  auto e = store.get(id);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  v1::Session s;
  ASSERT_TRUE(s.ParseFromString(e->value));
  (*s.mutable_slots())[slot] = value;
  s.set_turns(s.turns() + 1);
  ASSERT_TRUE(store.put(id, s.SerializeAsString(), e->version, std::chrono::hours(1)).ok());
}

TEST_F(SessionsTest, ConcurrentWriteOnAnotherReplicaReRunsTheTurnOnce) {
  std::string id = new_session();
  ASSERT_TRUE(say(id, "reserve a table for 4").ok());  // form asks for the time
  // While this replica runs "at 7pm", another one commits a turn that changed the party size.
  bool fired = false;
  store_.before_put = [&](const std::string& key) {
    if (fired || key != id) return;
    fired = true;
    write_as_other_replica(store_.inner_, id, "party_size", "6");
  };
  const int parses = services_.parse_calls;
  auto r = say(id, "at 7pm");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(fired);
  // Neither write is lost: the other replica's slot and this turn's slot are both there.
  EXPECT_EQ(texts(*r), "A table for 6 at 7pm — shall I book it?");
  EXPECT_TRUE(has_event(*r, "retry"));
  EXPECT_EQ(services_.parse_calls - parses, 2);  // the turn ran twice, answered once
  EXPECT_EQ(r->turn(), 3);                       // 1 here, 1 on the other replica, this one
  auto stored = sessions_->get(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->slots().at("party_size"), "6");
  EXPECT_EQ(stored->slots().at("time"), "7pm");
  EXPECT_EQ(stored->turns(), 3);
}

TEST_F(SessionsTest, TwoConflictsInARowAnswerAborted) {
  std::string id = new_session();
  ASSERT_TRUE(say(id, "reserve a table for 4").ok());
  int n = 0;
  store_.before_put = [&](const std::string& key) {
    if (key == id && n++ < 2) write_as_other_replica(store_.inner_, id, "party_size", std::to_string(5 + n));
  };
  auto r = say(id, "at 7pm");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAborted) << r.status().to_string();
  // The session holds the other replica's writes; the next turn works from them.
  store_.before_put = nullptr;
  r = say(id, "at 8pm");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(texts(*r), "A table for 7 at 8pm — shall I book it?");
}

TEST_F(SessionsTest, StoreRoundTripsOnTheStoreExecutorDoNotHoldActors) {
  actor::ManualExecutor store_exec;
  auto m = make_manager(store_, &store_exec);
  std::string a = new_session();
  std::string b = new_session();
  std::optional<Result<v1::TurnResponse>> ra, rb;
  m->turn(a, "reserve a table for 4", {}, [&](Result<v1::TurnResponse> r) { ra = std::move(r); });
  executor_.run_all();
  EXPECT_FALSE(ra.has_value()) << "the store get must wait for the store executor";
  // Session b's actor runs while a's store call is still pending.
  m->turn(b, "hello", {}, [&](Result<v1::TurnResponse> r) { rb = std::move(r); });
  executor_.run_all();
  EXPECT_FALSE(rb.has_value());
  // Step both: get -> NLU (inline fake) -> policy -> put -> reply.
  for (int i = 0; i < 10 && (!ra || !rb); ++i) {
    store_exec.run_all();
    executor_.run_all();
  }
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  ASSERT_TRUE(ra->ok()) << ra->status().to_string();
  ASSERT_TRUE(rb->ok()) << rb->status().to_string();
  EXPECT_EQ(texts(**ra), "What time would you like the table?");
  bool has_store_timing = false;
  for (const auto& t : (*ra)->timings()) has_store_timing |= t.stage() == "store";
  EXPECT_TRUE(has_store_timing);
}

TEST_F(SessionsTest, SessionsExpireAfterTheTtlWithoutATurn) {
  DialogOptions options;
  options.session_ttl = std::chrono::minutes(10);
  auto m = make_manager(store_, nullptr, options);
  auto s = m->create("demo", {});
  ASSERT_TRUE(s.ok());
  now_ += std::chrono::minutes(9);
  ASSERT_TRUE(say(s->id(), "reserve a table for 4", m.get()).ok());  // a turn refreshes the TTL
  now_ += std::chrono::minutes(9);
  ASSERT_TRUE(say(s->id(), "at 7pm", m.get()).ok());
  now_ += std::chrono::minutes(11);
  auto r = say(s->id(), "yes", m.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().to_string();
  EXPECT_EQ(m->get(s->id()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(m->active(), 0u) << "no actor is kept for an expired session";
}

}  // namespace
}  // namespace parley::dialog

namespace parley::dialog {
namespace {

TEST_F(SessionsTest, PolicyRunsOnThePolicyExecutorNotTheActorThreads) {
  // Bot content (slot patterns) must never run on the threads that serve every session: the
  // policy goes to its own executor and the decision comes back as a message.
  actor::ManualExecutor policy_exec;
  SessionDeps deps;
  deps.find_bot = [this](const std::string& id) -> std::shared_ptr<const Bot> { return id == bot_->id ? bot_ : nullptr; };
  deps.services = &services_;
  deps.store = &store_;
  deps.policy_executor = &policy_exec;
  SessionManager m(system_, deps, {});
  auto s = m.create("demo", {});
  ASSERT_TRUE(s.ok());
  std::optional<Result<v1::TurnResponse>> out;
  m.turn(s->id(), "reserve a table for 4", {}, [&](Result<v1::TurnResponse> r) { out = std::move(r); });
  executor_.run_all();
  EXPECT_FALSE(out.has_value()) << "the turn must wait for the policy executor";
  EXPECT_EQ(policy_exec.pending(), 1u);
  policy_exec.run_all();
  executor_.run_all();
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->ok()) << out->status().to_string();
  EXPECT_EQ(texts(**out), "What time would you like the table?");
  bool has_policy_timing = false;
  for (const auto& t : (*out)->timings()) has_policy_timing |= t.stage() == "policy";
  EXPECT_TRUE(has_policy_timing);
  // The state the policy changed (the form, the slot) was stored.
  auto stored = m.get(s->id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->active_form(), "table_booking");
  EXPECT_EQ(stored->slots().at("party_size"), "4");
}

/// Inverts mt19937_64's output tempering (each step is an xor-shift with a mask; undone by
/// repeating it until the bits settle).
std::uint64_t untemper(std::uint64_t y) {
  auto undo_right = [](std::uint64_t v, int shift, std::uint64_t mask) {
    std::uint64_t x = v;
    for (int i = 0; i < 64 / shift + 1; ++i) x = v ^ ((x >> shift) & mask);
    return x;
  };
  auto undo_left = [](std::uint64_t v, int shift, std::uint64_t mask) {
    std::uint64_t x = v;
    for (int i = 0; i < 64 / shift + 1; ++i) x = v ^ ((x << shift) & mask);
    return x;
  };
  y = undo_right(y, 43, ~0ULL);
  y = undo_left(y, 37, 0xFFF7EEE000000000ULL);
  y = undo_left(y, 17, 0x71D67FFFEDA60000ULL);
  y = undo_right(y, 29, 0x5555555555555555ULL);
  return y;
}

TEST_F(SessionsTest, SessionIdsCannotBePredictedFromEarlierIds) {
  // Issue 15: ids from an mt19937_64 were predictable: 156 ids (312 outputs, the generator's
  // whole state) gave the next id exactly. This runs that attack against new_session_id().
  std::vector<std::string> ids;
  std::thread t([&] {  // a fresh thread: a thread-local generator would start a fresh block
    for (int i = 0; i < 157; ++i) ids.push_back(new_session_id());
  });
  t.join();
  ASSERT_EQ(ids.size(), 157u);
  auto words = [](const std::string& id) {
    std::array<std::uint64_t, 2> w{};
    for (int k = 0; k < 2; ++k) {
      for (int i = 15; i >= 0; --i) {
        char c = id[static_cast<std::size_t>(k * 16 + i)];
        w[static_cast<std::size_t>(k)] = (w[static_cast<std::size_t>(k)] << 4) | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      }
    }
    return w;
  };
  std::ostringstream state;
  for (int i = 0; i < 156; ++i) {
    auto w = words(ids[static_cast<std::size_t>(i)]);
    state << untemper(w[0]) << ' ' << untemper(w[1]) << ' ';
  }
  state << 312;  // the position in the state: a new block starts with the next output
  std::mt19937_64 clone;
  std::istringstream in(state.str());
  in >> clone;
  ASSERT_FALSE(in.fail());
  auto next = words(ids[156]);
  const std::uint64_t p0 = clone(), p1 = clone();
  EXPECT_FALSE(p0 == next[0] && p1 == next[1]) << "the 157th id was predicted from the first 156";
  // And the ids are 128 bits of hex, all distinct.
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), ids.size());
  for (const auto& id : ids) {
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
}

TEST_F(SessionsTest, SessionsBelongToTheTenantThatCreatedThem) {
  auto mine = sessions_->create("demo", {}, "acme");
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->tenant(), "acme");
  const std::string id = mine->id();
  // Another tenant: as if the session did not exist.
  auto other = sessions_->get(id, std::string("globex"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound);
  std::optional<Result<v1::TurnResponse>> out;
  sessions_->turn(id, "hello", {}, 0, [&](Result<v1::TurnResponse> r) { out = std::move(r); }, std::string("globex"));
  executor_.run_all();
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->status().code(), StatusCode::kNotFound) << out->status().to_string();
  EXPECT_EQ(sessions_->remove(id, std::string("globex")).code(), StatusCode::kNotFound);
  // Its own tenant (and the trusted internal transport, no check) reach it.
  ASSERT_TRUE(sessions_->get(id, std::string("acme")).ok());
  out.reset();
  sessions_->turn(id, "reserve a table for 4", {}, 0, [&](Result<v1::TurnResponse> r) { out = std::move(r); },
                  std::string("acme"));
  executor_.run_all();
  ASSERT_TRUE(out.has_value() && out->ok());
  EXPECT_EQ((*out)->turn(), 1);
  EXPECT_TRUE(sessions_->get(id).ok());
  EXPECT_TRUE(sessions_->remove(id, std::string("acme")).is_ok());
}

}  // namespace
}  // namespace parley::dialog
