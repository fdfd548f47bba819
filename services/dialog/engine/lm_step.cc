// The LM step (see lm_step.h). Depends on lm_step.h.
#include "services/dialog/engine/lm_step.h"

#include <algorithm>
#include <cctype>

namespace parley::dialog {

v1::GenerateRequest generate_request(const TurnRun& run, const v1::Session& state) {
  const auto& lm = run.bot->lm_fallback;
  v1::GenerateRequest req;
  auto* msgs = req.mutable_messages();
  if (!lm.system_prompt.empty()) {
    auto* sys = msgs->add_messages();
    sys->set_role("system");
    sys->set_content(lm.system_prompt);
  }
  const int n = state.history_size();
  for (int i = std::max(0, n - lm.history_turns); i < n; ++i) {
    const auto& t = state.history(i);
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
  return req;
}

void apply_generated(TurnRun& run, const TurnScope& scope, const Result<v1::GenerateResponse>& r,
                     const std::string& reason) {
  if (!r.ok()) {
    service_failed(run, scope, "lm", r.status());
    return;
  }
  std::string text = r->text_delta();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(text.begin());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) {
    say(run, scope.state, kResponseFallback, "fallback");
    return;
  }
  auto* m = run.response.add_messages();
  m->set_text(text);
  m->set_kind(reason == "rule" ? "generated" : "generated_fallback");
}

}  // namespace parley::dialog
