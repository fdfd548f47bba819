// Tests for the QA service logic with the hash embedder and a fake LM: ingest, answer with
// sources, isolation, re-ingest (unchanged documents not embedded again), bad input, generative
// answers, fallback and refusal.
#include "services/qa/qa_service.h"

#include <gtest/gtest.h>

#include "shared/metrics/registry.h"

namespace parley::qa {
namespace {

using namespace std::chrono_literals;

/// Returns a canned reply or error and records the prompt.
class FakeGenerator final : public TextGenerator {
 public:
  Result<std::string> next = std::string("The shop opens at 9am [1].");
  std::string last_prompt;
  int calls = 0;
  Result<std::string> generate(const v1::ChatMessages& messages, const v1::SamplingParams&,
                               std::chrono::steady_clock::time_point) override {
    ++calls;
    last_prompt = messages.messages(messages.messages_size() - 1).content();
    return next;
  }
};

class QaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = std::make_unique<FakeGenerator>();
    gen_ = gen.get();
    QaOptions o;
    o.limits.max_document_bytes = 4096;
    o.limits.max_knowledge_bases = 3;
    o.default_min_score = 0.3f;
    auto s = QaService::create(o, std::make_shared<HashEmbedder>(256), std::move(gen), metrics_.get());
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    svc_ = std::move(*s);
  }
  static std::chrono::steady_clock::time_point soon() { return std::chrono::steady_clock::now() + 10s; }

  Status ingest(const std::string& kb, const std::vector<std::tuple<std::string, std::string, std::string>>& docs) {
    v1::IngestRequest r;
    r.set_kb_id(kb);
    for (const auto& [id, title, text] : docs) {
      auto* d = r.add_documents();
      d->set_id(id);
      d->set_title(title);
      d->set_text(text);
    }
    auto out = svc_->ingest(r, soon());
    return out.ok() ? Status::ok() : out.status();
  }
  Result<v1::AnswerResponse> ask(const std::string& kb, const std::string& q,
                                 v1::AnswerMode mode = v1::ANSWER_MODE_UNSPECIFIED) {
    v1::AnswerRequest r;
    r.set_kb_id(kb);
    r.set_question(q);
    r.set_mode(mode);
    return svc_->answer(r, soon());
  }

  metrics::Registry registry_;
  std::unique_ptr<QaMetrics> metrics_ = std::make_unique<QaMetrics>(registry_);
  FakeGenerator* gen_ = nullptr;
  std::unique_ptr<QaService> svc_;
};

const char* kShop =
    "# Opening hours\nThe shop opens at 9am on weekdays and at 10am on Saturdays. It is closed on Sundays.\n\n"
    "# Returns\nItems can be returned within 30 days with a receipt. Refunds go to the original card.\n";
const char* kZoo = "The zoo has three elephants. The penguins are fed at noon every day.";

TEST_F(QaServiceTest, AnswersFromTheRightPassageWithItsSource) {
  ASSERT_TRUE(ingest("shop", {{"faq", "Shop FAQ", kShop}}).is_ok());
  auto a = ask("shop", "How many days do I have to return items?");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(a->has_answer());
  EXPECT_EQ(a->answer(), "Items can be returned within 30 days with a receipt.");
  EXPECT_EQ(a->span(), "30");
  ASSERT_GE(a->passages_size(), 1);
  EXPECT_EQ(a->passages(0).id(), "faq#1");
  EXPECT_EQ(a->passages(0).document_id(), "faq");
  EXPECT_EQ(a->passages(0).title(), "Shop FAQ > Returns");
  EXPECT_EQ(a->mode(), v1::EXTRACTIVE);
  EXPECT_GT(a->confidence(), 0.3f);
  EXPECT_NE(registry_.render().find("parley_qa_answers_total{mode=\"extractive\",outcome=\"answered\"} 1"),
            std::string::npos);
}

TEST_F(QaServiceTest, UnrelatedQuestionGetsNoAnswer) {
  ASSERT_TRUE(ingest("shop", {{"faq", "Shop FAQ", kShop}}).is_ok());
  auto a = ask("shop", "Which quantum chromodynamics lattice spacing converges?");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_answer()) << a->answer() << " " << a->confidence();
  EXPECT_EQ(a->answer(), "");
  EXPECT_GT(a->passages_size(), 0);  // the passages looked at are still reported
}

TEST_F(QaServiceTest, KnowledgeBasesAreIsolatedAndDroppable) {
  ASSERT_TRUE(ingest("shop", {{"faq", "", kShop}}).is_ok());
  ASSERT_TRUE(ingest("zoo", {{"animals", "", kZoo}}).is_ok());
  auto z = ask("zoo", "When are the penguins fed?");
  ASSERT_TRUE(z.ok());
  for (const auto& p : z->passages()) EXPECT_EQ(p.document_id(), "animals");
  auto s = ask("shop", "When are the penguins fed?");
  ASSERT_TRUE(s.ok());
  for (const auto& p : s->passages()) EXPECT_EQ(p.document_id(), "faq");
  v1::DropKnowledgeBaseRequest drop;
  drop.set_kb_id("zoo");
  struct Ctx : service::CallContext {
    std::string e;
    const std::string& method() const override { return e; }
    const std::string& session_id() const override { return e; }
    const std::string& trace_id() const override { return e; }
    std::chrono::steady_clock::time_point deadline() const override { return std::chrono::steady_clock::now() + 1s; }
    bool cancelled() const override { return false; }
    void add_timing(std::string, std::chrono::microseconds) override {}
  } ctx;
  ASSERT_TRUE(svc_->drop(drop, ctx).ok());
  EXPECT_EQ(ask("zoo", "penguins?").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(svc_->drop(drop, ctx).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(ask("shop", "When does the shop open?").ok());
}

TEST_F(QaServiceTest, ReingestReplacesADocumentAndKeepsTheOthers) {
  ASSERT_TRUE(ingest("kb", {{"a", "", "The password is swordfish."}, {"b", "", kZoo}}).is_ok());
  ASSERT_TRUE(ingest("kb", {{"a", "", "The password is marlin now."}}).is_ok());
  auto kb = svc_->store().get("kb");
  ASSERT_NE(kb, nullptr);
  EXPECT_EQ(kb->document_count(), 2u);
  auto a = ask("kb", "What is the password?");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->answer(), "The password is marlin now.");
  for (const auto& p : a->passages()) EXPECT_EQ(p.text().find("swordfish"), std::string::npos);
}

/// The hash embedder, counting the texts it embeds.
class CountingEmbedder final : public Embedder {
 public:
  int dim() const override { return inner_.dim(); }
  std::string name() const override { return inner_.name(); }
  Result<Embeddings> embed(const std::vector<std::string>& texts) const override {
    embedded += texts.size();
    return inner_.embed(texts);
  }
  mutable std::size_t embedded = 0;

 private:
  HashEmbedder inner_{256};
};

// A dialog re-sends every knowledge base when it starts or sees a QA replica again: documents
// the KB already holds with the same text and chunking keep their vectors (nothing embedded),
// while a changed text, title or chunking is embedded again, and answers stay the same.
TEST(QaServiceReingest, UnchangedDocumentsAreNotEmbeddedAgain) {
  metrics::Registry registry;
  QaMetrics metrics(registry);
  auto embedder = std::make_shared<CountingEmbedder>();
  QaOptions o;
  o.batch.max_batch_size = 1;
  auto svc = QaService::create(o, embedder, nullptr, &metrics);
  ASSERT_TRUE(svc.ok()) << svc.status().to_string();
  auto request = [](std::string shop_title, std::string zoo_text) {
    v1::IngestRequest r;
    r.set_kb_id("kb");
    auto* a = r.add_documents();
    a->set_id("shop");
    a->set_title(shop_title);
    a->set_text(kShop);
    auto* b = r.add_documents();
    b->set_id("zoo");
    b->set_text(zoo_text);
    return r;
  };
  const auto soon = std::chrono::steady_clock::now() + 10s;
  std::size_t embedded = 0;  // texts the last ingest embedded (passages and sentences)
  auto ingest = [&](const v1::IngestRequest& r) {
    const std::size_t at = embedder->embedded;
    auto out = (*svc)->ingest(r, soon);
    embedded = embedder->embedded - at;
    return out;
  };
  auto first = ingest(request("Shop FAQ", kZoo));
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->unchanged_documents(), 0);
  EXPECT_GT(embedded, 0u);
  v1::AnswerRequest q;
  q.set_kb_id("kb");
  q.set_question("When are the penguins fed?");
  auto before = (*svc)->answer(q, soon);
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  const auto kb_before = (*svc)->store().get("kb");

  auto again = ingest(request("Shop FAQ", kZoo));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->documents(), 2);
  EXPECT_EQ(again->unchanged_documents(), 2);
  EXPECT_EQ(again->chunks(), first->chunks());
  EXPECT_EQ(embedded, 0u) << "nothing was embedded again";
  const auto kb_after = (*svc)->store().get("kb");
  ASSERT_EQ(kb_after->passages().size(), kb_before->passages().size());
  for (std::size_t p = 0; p < kb_after->passages().size(); ++p) {
    EXPECT_EQ(kb_after->passages()[p].id, kb_before->passages()[p].id);
    EXPECT_EQ(kb_after->passages()[p].text, kb_before->passages()[p].text);
  }
  auto after = (*svc)->answer(q, soon);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->answer(), before->answer());
  EXPECT_EQ(after->confidence(), before->confidence());

  // A changed text is embedded (its one passage and one sentence); the other document is kept.
  auto changed = ingest(request("Shop FAQ", "The zoo has four elephants now."));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->unchanged_documents(), 1);
  EXPECT_EQ(embedded, 2u);
  // A changed title heads the shop's passages: embedded again.
  auto retitled = ingest(request("Our shop", "The zoo has four elephants now."));
  ASSERT_TRUE(retitled.ok());
  EXPECT_EQ(retitled->unchanged_documents(), 1);
  EXPECT_GT(embedded, 2u);
  // Another chunking cuts the shop's text into more passages: embedded again (the zoo's one
  // sentence chunks alike and is kept).
  v1::IngestRequest rechunked = request("Our shop", "The zoo has four elephants now.");
  rechunked.set_chunk_tokens(12);
  rechunked.set_overlap_tokens(0);
  auto small = ingest(rechunked);
  ASSERT_TRUE(small.ok()) << small.status().to_string();
  EXPECT_EQ(small->unchanged_documents(), 1);
  EXPECT_GT(small->chunks(), 2);
  EXPECT_GT(embedded, 0u);
  auto penguins = (*svc)->answer(q, soon);
  ASSERT_TRUE(penguins.ok());
  EXPECT_EQ(penguins->answer().find("penguins"), std::string::npos) << "the old zoo text is gone";

  const std::string text = registry.render();
  EXPECT_NE(text.find("parley_qa_ingest_unchanged_documents_total 5"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_qa_ingested_documents_total 10"), std::string::npos) << text;
}

// A document with nothing but headings is stored but holds nothing to answer from: the ingest
// names it (a warning, not an error: the other documents are served) rather than let the
// knowledge base silently lack it.
TEST_F(QaServiceTest, ADocumentOfOnlyHeadingsIsNamed) {
  v1::IngestRequest r;
  r.set_kb_id("kb");
  auto* empty = r.add_documents();
  empty->set_id("outline");
  empty->set_text("# Opening hours\n## Weekdays\n## Weekends\n");
  auto* zoo = r.add_documents();
  zoo->set_id("zoo");
  zoo->set_text(kZoo);
  auto out = svc_->ingest(r, soon());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->warnings_size(), 1);
  EXPECT_EQ(out->warnings(0), "document 'outline' has no text outside its headings: nothing in it can be answered");
  auto a = ask("kb", "When are the penguins fed?");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->has_answer());
  // Ingesting the zoo alone warns about nothing.
  r.mutable_documents()->DeleteSubrange(0, 1);
  auto again = svc_->ingest(r, soon());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->warnings_size(), 0);
  // Many such documents: five by name, then a count (the reply stays bounded).
  v1::IngestRequest many;
  many.set_kb_id("many");
  for (int i = 0; i < 8; ++i) {
    auto* d = many.add_documents();
    d->set_id("outline" + std::to_string(i));
    d->set_text("# Heading " + std::to_string(i) + "\n");
  }
  auto lots = svc_->ingest(many, soon());
  ASSERT_TRUE(lots.ok()) << lots.status().to_string();
  ASSERT_EQ(lots->warnings_size(), 6);
  EXPECT_EQ(lots->warnings(4), "document 'outline4' has no text outside its headings: nothing in it can be answered");
  EXPECT_EQ(lots->warnings(5), "3 more documents have no text outside their headings");
}

TEST_F(QaServiceTest, BadInputGetsClearErrors) {
  EXPECT_EQ(ask("nope", "Anything?").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(ingest("shop", {{"faq", "", kShop}}).is_ok());
  auto empty = ask("shop", "   ");
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("question is empty"), std::string::npos);
  auto utf = ask("shop", "caf\xc3 open?");
  EXPECT_EQ(utf.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(utf.status().message().find("UTF-8"), std::string::npos);
  Status huge = ingest("shop", {{"big", "", std::string(5000, 'a')}});
  EXPECT_EQ(huge.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(huge.message().find("qa.max_document_bytes"), std::string::npos) << huge.message();
  EXPECT_EQ(ingest("bad id!", {{"x", "", "text"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ingest("kb2", {{"x", "", "ok"}, {"x", "", "dup"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ingest("kb2", {{"x", "", "bad \xff text"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ingest("kb2", {}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(ingest("kb2", {{"x", "", "ok"}}).is_ok());
  ASSERT_TRUE(ingest("kb3", {{"x", "", "ok"}}).is_ok());
  Status full = ingest("kb4", {{"x", "", "ok"}});
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("qa.max_knowledge_bases"), std::string::npos);
  // Still serving after all that.
  EXPECT_TRUE(ask("shop", "When does the shop open?").ok());
}

TEST_F(QaServiceTest, GenerativeAnswerComesFromTheLmWithNumberedPassages) {
  ASSERT_TRUE(ingest("shop", {{"faq", "Shop FAQ", kShop}}).is_ok());
  auto a = ask("shop", "When does the shop open on Saturdays?", v1::GENERATIVE);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(gen_->calls, 1);
  EXPECT_EQ(a->mode(), v1::GENERATIVE);
  EXPECT_TRUE(a->has_answer());
  EXPECT_EQ(a->answer(), "The shop opens at 9am [1].");
  EXPECT_NE(gen_->last_prompt.find("[1] (Shop FAQ > Opening hours) The shop opens at 9am"), std::string::npos)
      << gen_->last_prompt;
  EXPECT_NE(gen_->last_prompt.find("Question: When does the shop open on Saturdays?"), std::string::npos);
}

TEST_F(QaServiceTest, GenerativeFallsBackToExtractiveWhenTheLmFails) {
  ASSERT_TRUE(ingest("shop", {{"faq", "", kShop}}).is_ok());
  gen_->next = unavailable("no replica of lm");
  auto a = ask("shop", "When does the shop open on Saturdays?", v1::GENERATIVE);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode(), v1::EXTRACTIVE);
  EXPECT_TRUE(a->has_answer());
  EXPECT_NE(a->answer().find("10am on Saturdays"), std::string::npos);
  EXPECT_NE(a->note().find("UNAVAILABLE"), std::string::npos) << a->note();
  EXPECT_NE(registry_.render().find("parley_qa_lm_fallbacks_total{reason=\"UNAVAILABLE\"} 1"), std::string::npos);
}

TEST_F(QaServiceTest, LmRefusalIsNoAnswer) {
  ASSERT_TRUE(ingest("shop", {{"faq", "", kShop}}).is_ok());
  gen_->next = std::string(" I don't know.");
  auto a = ask("shop", "When does the shop open on Saturdays?", v1::GENERATIVE);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_answer());
  EXPECT_EQ(a->mode(), v1::GENERATIVE);
}

TEST_F(QaServiceTest, QuestionEmbeddingGoesThroughTheBatcher) {
  ASSERT_TRUE(ingest("shop", {{"faq", "", kShop}}).is_ok());
  ASSERT_NE(svc_->batcher(), nullptr);
  ASSERT_TRUE(ask("shop", "When does the shop open?").ok());
  ASSERT_TRUE(ask("shop", "Can I return items?").ok());
  EXPECT_EQ(svc_->batcher()->stats().snapshot().executed, 2u);
}

}  // namespace
}  // namespace parley::qa
