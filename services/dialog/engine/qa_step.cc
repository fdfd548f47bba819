// The knowledge-base step (see qa_step.h). Depends on qa_step.h.
#include "services/dialog/engine/qa_step.h"

namespace parley::dialog {

v1::AnswerRequest answer_request(const TurnRun& run) {
  const auto& kb = run.bot->knowledge_base;
  v1::AnswerRequest req;
  req.set_kb_id(run.bot->id);
  req.set_question(run.input.text);
  req.set_mode(kb.answer_mode == "generative" ? v1::GENERATIVE : v1::EXTRACTIVE);
  req.set_top_k(kb.top_k);
  req.set_min_score(kb.min_score);
  return req;
}

void apply_answer(TurnRun& run, const TurnScope& scope, const Result<v1::AnswerResponse>& r) {
  if (!r.ok()) {
    service_failed(run, scope, "qa", r.status());
    return;
  }
  if (!r->has_answer() || r->answer().empty()) {
    auto* e = run.response.add_events();
    e->set_type("fallback");
    e->set_name("kb_no_answer");
    if (scope.metrics) scope.metrics->fallbacks.labels({"kb_no_answer"}).inc();
    const auto& kb = run.bot->knowledge_base;
    if (!kb.no_answer.empty()) {
      say(run, scope.state, kb.no_answer, "fallback");
    } else if (run.bot->lm_fallback.enabled) {
      run.decision.steps.insert(run.decision.steps.begin() + static_cast<long>(run.next_step), GenerateStep{"kb_no_answer"});
    } else {
      say(run, scope.state, "kb_no_answer", "fallback");
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

}  // namespace parley::dialog
