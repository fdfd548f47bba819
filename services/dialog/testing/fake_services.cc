// Fake NLU/QA/LM logic and their in-process and transport hosts (see fake_services.h).
// Depends on fake_services.h, shared/transport.
#include "services/dialog/testing/fake_services.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "shared/transport/wire.h"

namespace parley::dialog::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Lower-case word tokens; a token with a digit becomes "#" (numbers and times match each other).
std::vector<std::string> tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    bool digit = std::any_of(cur.begin(), cur.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    out.push_back(digit ? "#" : cur);
    cur.clear();
  };
  for (char c : lower(text)) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || c == ':') {
      cur.push_back(c);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

double jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  if (sa.empty() || sb.empty()) return 0;
  std::size_t common = 0;
  for (const auto& t : sa) common += sb.count(t);
  return static_cast<double>(common) / static_cast<double>(sa.size() + sb.size() - common);
}

const std::set<std::string>& stopwords() {
  static const std::set<std::string> k = {"the", "is", "are", "a", "an", "do", "you", "have", "what", "when", "where",
                                          "can", "i", "my", "there", "at", "to", "of", "in", "on", "for", "and",
                                          "it", "does", "how", "time", "your", "any", "be", "with", "from"};
  return k;
}

std::vector<std::string> content_words(const std::string& text) {
  std::vector<std::string> out;
  for (auto& t : tokens(text)) {
    std::string w = t;
    if (w.size() > 3 && w.back() == 's') w.pop_back();  // crude stemming: pools ~ pool
    if (!stopwords().contains(t) && t != "#" && t.size() > 1) out.push_back(w);
  }
  return out;
}

void add_slot(v1::ParseResponse& out, const std::string& slot, const std::string& text, std::size_t start,
              std::size_t len, const std::string& value) {
  auto* s = out.add_slots();
  s->set_slot(slot);
  s->set_raw_value(text.substr(start, len));
  s->set_value(value);
  s->set_start(static_cast<int>(start));
  s->set_end(static_cast<int>(start + len));
  s->set_confidence(0.9f);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
v1::TrainResponse KeywordNlu::train(const v1::TrainRequest& req) {
  std::lock_guard lock(mu_);
  bots_[req.bot_id()] = req;
  v1::TrainResponse r;
  r.set_bot_id(req.bot_id());
  for (const auto& i : req.intents()) r.set_examples(r.examples() + i.examples_size());
  // Like the real NLU: a slot no example annotates is worth a warning to the bot's author.
  std::set<std::string> annotated;
  for (const auto& i : req.intents()) {
    for (const auto& e : i.examples()) {
      for (const auto& s : e.slots()) annotated.insert(s.slot());
    }
  }
  for (const auto& d : req.slots()) {
    if (!annotated.contains(d.name())) r.add_warnings("slot '" + d.name() + "' has no annotated examples");
  }
  return r;
}

void KeywordNlu::drop(const std::string& bot_id) {
  std::lock_guard lock(mu_);
  bots_.erase(bot_id);
}

bool KeywordNlu::knows(const std::string& bot_id) const {
  std::lock_guard lock(mu_);
  return bots_.contains(bot_id);
}

Result<v1::TrainingStatusResponse> KeywordNlu::training_status(const v1::TrainingStatusRequest& req) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(req.bot_id());
  if (it == bots_.end()) return not_found("bot '" + req.bot_id() + "' is not trained");
  v1::TrainingStatusResponse r;
  r.set_bot_id(req.bot_id());
  r.mutable_fine_tune()->set_state(v1::FineTuneStatus::NONE);
  r.mutable_fine_tune()->set_serving("frozen");
  const v1::FineTuneMode asked = it->second.fine_tune();
  if (asked == v1::FINE_TUNE_FULL || asked == v1::FINE_TUNE_LORA) {
    r.mutable_fine_tune()->set_message("the keyword stand-in does not fine-tune (asked: " +
                                       std::string(asked == v1::FINE_TUNE_FULL ? "full" : "lora") + ")");
  }
  return r;
}

v1::TrainRequest KeywordNlu::last_train(const std::string& bot_id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(bot_id);
  return it == bots_.end() ? v1::TrainRequest{} : it->second;
}

Result<v1::ParseResponse> KeywordNlu::parse(const v1::ParseRequest& req) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(req.bot_id());
  if (it == bots_.end()) return not_found("bot '" + req.bot_id() + "' is not trained");
  const v1::TrainRequest& bot = it->second;
  const std::string& text = req.text();
  const auto toks = tokens(text);
  std::vector<std::pair<double, std::string>> scores;
  for (const auto& intent : bot.intents()) {
    double best = 0;
    for (const auto& ex : intent.examples()) best = std::max(best, jaccard(toks, tokens(ex.text())));
    scores.push_back({best, intent.name()});
  }
  std::stable_sort(scores.begin(), scores.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  v1::ParseResponse out;
  out.set_model("keyword");  // not a real NLU model: a turn shows which one parsed it
  for (std::size_t i = 0; i < scores.size() && i < 3; ++i) {
    auto* s = out.add_intents();
    s->set_name(scores[i].second);
    s->set_confidence(static_cast<float>(scores[i].first));
  }
  out.set_out_of_scope(scores.empty() || scores[0].first < bot.out_of_scope_threshold());
  const std::string top = scores.empty() ? "" : scores[0].second;
  const std::string l = lower(text);

  // Which slots the top intent's examples annotate (for numbers that could be several slots).
  std::vector<std::string> intent_slots;
  for (const auto& intent : bot.intents()) {
    if (intent.name() != top) continue;
    for (const auto& ex : intent.examples()) {
      for (const auto& span : ex.slots()) {
        if (std::find(intent_slots.begin(), intent_slots.end(), span.slot()) == intent_slots.end()) {
          intent_slots.push_back(span.slot());
        }
      }
    }
  }
  auto type_of = [&](const std::string& name) {
    for (const auto& s : bot.slots()) {
      if (s.name() == name) return s.type();
    }
    return v1::SlotDefinition::TYPE_UNSPECIFIED;
  };
  std::vector<std::pair<std::size_t, std::size_t>> taken;  // byte ranges already used
  auto free_range = [&](std::size_t b, std::size_t e) {
    for (auto [tb, te] : taken) {
      if (b < te && tb < e) return false;
    }
    return true;
  };

  // Times and dates first, so "7pm" is not read as the number 7.
  static const std::regex time_re("\\b([0-9]{1,2}(:[0-9]{2})?\\s*(am|pm)|[0-9]{1,2}:[0-9]{2}|noon|midnight)\\b");
  static const std::regex date_re(
      "\\b(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|[0-9]{1,2}\\s+(jan|feb|mar|apr|may|jun|"
      "jul|aug|sep|oct|nov|dec)[a-z]*)\\b");
  for (const auto& def : bot.slots()) {
    if (def.type() != v1::SlotDefinition::DATE_TIME) continue;
    const bool is_time = def.name().find("time") != std::string::npos;
    std::smatch m;
    if (std::regex_search(l, m, is_time ? time_re : date_re)) {
      auto b = static_cast<std::size_t>(m.position(0));
      add_slot(out, def.name(), text, b, m.length(0), m.str(0));
      taken.push_back({b, b + m.length(0)});
    }
  }
  for (const auto& def : bot.slots()) {
    if (def.type() == v1::SlotDefinition::CATEGORICAL) {
      std::string best_value;
      std::size_t best_pos = 0, best_len = 0;
      for (const auto& [canonical, list] : def.values()) {
        std::vector<std::string> all(list.synonyms().begin(), list.synonyms().end());
        all.push_back(canonical);
        for (const auto& syn : all) {
          auto p = l.find(lower(syn));
          if (p != std::string::npos && syn.size() > best_len) {
            best_value = canonical;
            best_pos = p;
            best_len = syn.size();
          }
        }
      }
      if (best_len > 0 && free_range(best_pos, best_pos + best_len)) {
        add_slot(out, def.name(), text, best_pos, best_len, best_value);
        taken.push_back({best_pos, best_pos + best_len});
      }
    } else if (def.type() == v1::SlotDefinition::REGEX && !def.pattern().empty()) {
      try {
        std::smatch m;
        if (std::regex_search(text, m, std::regex(def.pattern()))) {
          add_slot(out, def.name(), text, static_cast<std::size_t>(m.position(0)), m.length(0), m.str(0));
        }
      } catch (const std::regex_error&) {
      }
    }
  }
  // Numbers: the expected slot when it is a number, else the top intent's first number slot.
  std::string number_slot;
  if (type_of(req.expected_slot()) == v1::SlotDefinition::NUMBER) {
    number_slot = req.expected_slot();
  } else {
    for (const auto& s : intent_slots) {
      if (type_of(s) == v1::SlotDefinition::NUMBER) {
        number_slot = s;
        break;
      }
    }
  }
  if (!number_slot.empty()) {
    static const std::regex num_re("\\b[0-9]+\\b");
    for (auto m = std::sregex_iterator(l.begin(), l.end(), num_re); m != std::sregex_iterator(); ++m) {
      auto b = static_cast<std::size_t>(m->position(0));
      if (!free_range(b, b + m->length(0))) continue;
      add_slot(out, number_slot, text, b, m->length(0), m->str(0));
      break;
    }
  }
  if (type_of(req.expected_slot()) == v1::SlotDefinition::FREE_TEXT && out.slots_size() == 0) {
    add_slot(out, req.expected_slot(), text, 0, text.size(), text);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
v1::IngestResponse KeywordQa::ingest(const v1::IngestRequest& req) {
  std::vector<v1::Passage> passages;
  v1::IngestResponse r;
  for (const auto& doc : req.documents()) {
    std::string sentence;
    int n = 0;
    auto flush = [&] {
      std::string s = sentence;
      s.erase(0, s.find_first_not_of(" \n#"));
      if (s.size() > 12) {
        v1::Passage p;
        p.set_id(doc.id() + "#" + std::to_string(n++));
        p.set_document_id(doc.id());
        p.set_title(doc.title());
        p.set_text(s);
        passages.push_back(std::move(p));
      }
      sentence.clear();
    };
    const std::string& t = doc.text();
    for (std::size_t i = 0; i < t.size(); ++i) {
      sentence.push_back(t[i]);
      if (t[i] == '\n' || (t[i] == '.' && (i + 1 == t.size() || t[i + 1] == ' ' || t[i + 1] == '\n'))) flush();
    }
    flush();
    // Like the real QA (there: only headings), a document that gave no passage is named.
    if (n == 0) r.add_warnings("document '" + doc.id() + "' has no text outside its headings: nothing in it can be answered");
  }
  r.set_kb_id(req.kb_id());
  r.set_documents(req.documents_size());
  r.set_chunks(static_cast<int>(passages.size()));
  std::lock_guard lock(mu_);
  kbs_[req.kb_id()] = std::move(passages);
  return r;
}

Result<v1::AnswerResponse> KeywordQa::answer(const v1::AnswerRequest& req) const {
  std::lock_guard lock(mu_);
  auto it = kbs_.find(req.kb_id());
  if (it == kbs_.end()) return not_found("knowledge base '" + req.kb_id() + "' not found");
  const auto q = content_words(req.question());
  std::vector<std::pair<double, const v1::Passage*>> scored;
  for (const auto& p : it->second) {
    const auto w = content_words(p.text());
    std::set<std::string> ws(w.begin(), w.end());
    double hits = 0;
    for (const auto& t : q) hits += ws.count(t);
    scored.push_back({q.empty() ? 0 : hits / static_cast<double>(q.size()), &p});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  v1::AnswerResponse r;
  r.set_mode(v1::EXTRACTIVE);
  const int k = req.top_k() > 0 ? req.top_k() : 3;
  for (int i = 0; i < k && i < static_cast<int>(scored.size()); ++i) {
    if (scored[i].first <= 0) break;
    v1::Passage p = *scored[i].second;
    p.set_score(static_cast<float>(scored[i].first));
    *r.add_passages() = p;
  }
  if (!scored.empty() && scored[0].first >= std::max(0.3, static_cast<double>(req.min_score()))) {
    r.set_has_answer(true);
    r.set_answer(scored[0].second->text());
    r.set_confidence(static_cast<float>(scored[0].first));
  }
  return r;
}

std::vector<std::string> fake_lm_tokens(const std::string& user_text) {
  std::vector<std::string> out;
  std::istringstream in("I am a small language model, and you said: " + user_text);
  std::string w;
  bool first = true;
  while (in >> w) {
    out.push_back(first ? w : " " + w);
    first = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
void FakeServices::parse(const v1::ParseRequest& req, const CallMeta&, Done<v1::ParseResponse> done) {
  ++parse_calls;
  if (nlu_down) return done(unavailable("no live replica of nlu"), CallInfo{});
  done(nlu.parse(req), CallInfo{std::chrono::microseconds(100), std::chrono::microseconds(50)});
}

void FakeServices::answer(const v1::AnswerRequest& req, const CallMeta&, Done<v1::AnswerResponse> done) {
  ++answer_calls;
  if (qa_down) return done(deadline_exceeded("qa did not answer within 5000 ms"), CallInfo{});
  done(qa.answer(req), CallInfo{std::chrono::microseconds(200), std::chrono::microseconds(150)});
}

void FakeServices::generate(const v1::GenerateRequest& req, const CallMeta& meta, std::function<void(const std::string&)> on_delta,
                            Done<v1::GenerateResponse> done) {
  ++generate_calls;
  last_generate = req;
  if (lm_down) return done(unavailable("no live replica of lm"), CallInfo{});
  std::string user;
  if (req.has_messages() && req.messages().messages_size() > 0) {
    user = req.messages().messages(req.messages().messages_size() - 1).content();
  }
  v1::GenerateResponse r;
  std::string all;
  for (const auto& t : fake_lm_tokens(user)) {
    on_delta(t);
    all += t;
  }
  r.set_text_delta(all);
  r.set_finish_reason("stop");
  if (!hold_generate) return done(r, CallInfo{std::chrono::microseconds(300), std::chrono::microseconds(250)});
  auto finished = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard lock(held_mu_);
    held_.push_back(Held{r, done, finished});
  }
  if (meta.cancel) {
    meta.cancel->on_cancel([this, done, finished] {
      if (finished->exchange(true)) return;
      ++generate_cancelled;
      done(cancelled("generation cancelled"), CallInfo{std::chrono::microseconds(300), {}});
    });
  }
}

int FakeServices::release_generate() {
  std::vector<Held> held;
  {
    std::lock_guard lock(held_mu_);
    held.swap(held_);
  }
  int n = 0;
  for (auto& h : held) {
    if (h.finished->exchange(true)) continue;
    h.done(h.reply, CallInfo{std::chrono::microseconds(300), std::chrono::microseconds(250)});
    ++n;
  }
  return n;
}

void FakeServices::webhook(const WebhookDef& hook, std::string json_body, const CallMeta&, Done<std::string> done) {
  ++webhook_calls;
  if (!on_webhook) return done(unavailable("connection refused: " + hook.url), CallInfo{});
  done(on_webhook(hook.url, json_body), CallInfo{std::chrono::microseconds(100), {}});
}

void FakeServices::training_status(const v1::TrainingStatusRequest& req, const CallMeta&,
                                   std::function<void(std::vector<ReplicaTrainingStatus>)> done) {
  ++training_status_calls;
  std::vector<ReplicaTrainingStatus> out;
  if (!nlu_down) {  // down: no live replica, as the transport sees it
    for (const auto& replica : nlu_replicas) {
      out.push_back({replica, on_training_status ? on_training_status(replica, req) : nlu.training_status(req)});
    }
  }
  done(std::move(out));
}

Result<v1::TrainResponse> FakeServices::train(const v1::TrainRequest& req, std::chrono::milliseconds) {
  ++train_calls;
  if (nlu_down) return unavailable("no live replica of nlu");
  return nlu.train(req);
}

Result<v1::IngestResponse> FakeServices::ingest(const v1::IngestRequest& req, std::chrono::milliseconds) {
  if (qa_down) return unavailable("no live replica of qa");
  return qa.ingest(req);
}

// ---------------------------------------------------------------------------------------------
struct FakeServiceServer::Impl {
  std::string kind;
  std::unique_ptr<transport::Server> server;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<transport::ServerCall>> queue;
  bool stopping = false;
  std::vector<std::thread> workers;
};

namespace {

template <typename Reply>
void finish_with(const std::shared_ptr<transport::ServerCall>& call, const Result<Reply>& r, Clock::time_point start) {
  if (!r.ok()) {
    call->finish(r.status());
    return;
  }
  transport::Envelope env;
  env.mutable_payload()->PackFrom(*r);
  auto* t = env.add_timings();
  t->set_stage("inference");
  t->set_duration_us(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
  call->finish(std::move(env));
}

}  // namespace

Result<std::unique_ptr<FakeServiceServer>> FakeServiceServer::start(std::string kind, std::string endpoint, int worker_threads) {
  std::unique_ptr<FakeServiceServer> self(new FakeServiceServer());
  self->impl_ = std::make_unique<Impl>();
  Impl* impl = self->impl_.get();
  impl->kind = kind;
  transport::ServerOptions options;
  options.endpoints = {endpoint};
  auto server = transport::Server::start(options, transport::make_handler([impl](std::shared_ptr<transport::ServerCall> call) {
    std::lock_guard lock(impl->mu);
    impl->queue.push_back(std::move(call));
    impl->cv.notify_one();
  }));
  if (!server.ok()) return server.status();
  impl->server = std::move(*server);
  self->endpoint_ = impl->server->endpoints()[0];
  FakeServiceServer* fs = self.get();
  for (int i = 0; i < worker_threads; ++i) {
    impl->workers.emplace_back([impl, fs] {
      while (true) {
        std::shared_ptr<transport::ServerCall> call;
        {
          std::unique_lock lock(impl->mu);
          impl->cv.wait(lock, [&] { return impl->stopping || !impl->queue.empty(); });
          if (impl->stopping) return;
          call = std::move(impl->queue.front());
          impl->queue.pop_front();
        }
        ++fs->calls;
        const auto start = Clock::now();
        if (int d = fs->delay_us.load(); d > 0) std::this_thread::sleep_for(std::chrono::microseconds(d));
        if (fs->failing) {
          call->finish(unavailable("fake " + impl->kind + " is failing"));
          continue;
        }
        const auto& env = call->request();
        const std::string& m = env.method();
        if (m == "parley.v1.Nlu/Train") {
          v1::TrainRequest req;
          env.payload().UnpackTo(&req);
          finish_with(call, Result<v1::TrainResponse>(fs->nlu.train(req)), start);
        } else if (m == "parley.v1.Nlu/Parse") {
          v1::ParseRequest req;
          env.payload().UnpackTo(&req);
          finish_with(call, fs->nlu.parse(req), start);
        } else if (m == "parley.v1.Nlu/TrainingStatus") {
          v1::TrainingStatusRequest req;
          env.payload().UnpackTo(&req);
          finish_with(call, fs->nlu.training_status(req), start);
        } else if (m == "parley.v1.Nlu/DropBot") {
          v1::DropBotRequest req;
          env.payload().UnpackTo(&req);
          fs->nlu.drop(req.bot_id());
          finish_with(call, Result<v1::DropBotResponse>(v1::DropBotResponse{}), start);
        } else if (m == "parley.v1.Qa/Ingest") {
          v1::IngestRequest req;
          env.payload().UnpackTo(&req);
          finish_with(call, Result<v1::IngestResponse>(fs->qa.ingest(req)), start);
        } else if (m == "parley.v1.Qa/Answer") {
          v1::AnswerRequest req;
          env.payload().UnpackTo(&req);
          finish_with(call, fs->qa.answer(req), start);
        } else if (m == "parley.v1.Lm/Generate") {
          v1::GenerateRequest req;
          env.payload().UnpackTo(&req);
          std::string user;
          if (req.has_messages() && req.messages().messages_size() > 0) {
            user = req.messages().messages(req.messages().messages_size() - 1).content();
          }
          bool stopped = false;
          for (const auto& t : fake_lm_tokens(user)) {
            if (int d = fs->token_delay_us.load(); d > 0) {
              // Sleep in slices so a CANCEL is noticed promptly (the real LM frees its pages then).
              const auto until = Clock::now() + std::chrono::microseconds(d);
              while (Clock::now() < until && !call->cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            if (call->cancelled()) {
              stopped = true;
              break;
            }
            v1::GenerateResponse r;
            r.set_text_delta(t);
            transport::Envelope e;
            e.mutable_payload()->PackFrom(r);
            call->send(std::move(e));
          }
          if (stopped) {
            ++fs->cancelled;
            continue;
          }
          v1::GenerateResponse last;
          last.set_finish_reason("stop");
          finish_with(call, Result<v1::GenerateResponse>(last), start);
        } else {
          call->finish(unimplemented("fake " + impl->kind + " does not serve " + m));
        }
      }
    });
  }
  return self;
}

FakeServiceServer::~FakeServiceServer() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->cv.notify_all();
  }
  for (auto& t : impl_->workers) t.join();
  impl_->server->stop();
}

}  // namespace parley::dialog::testing
