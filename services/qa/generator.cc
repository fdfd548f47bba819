// Generative answering over the LM service.
#include "services/qa/generator.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>

#include "shared/transport/client.h"

namespace parley::qa {

v1::ChatMessages build_generative_prompt(const std::string& question, const std::vector<PromptPassage>& passages) {
  v1::ChatMessages out;
  auto* system = out.add_messages();
  system->set_role("system");
  system->set_content(
      "You answer questions using only the numbered passages given by the user. Cite the passages you "
      "used as [1], [2]. Answer in one or two sentences. If the passages do not contain the answer, reply "
      "exactly: I don't know.");
  std::string user = "Passages:\n";
  for (std::size_t i = 0; i < passages.size(); ++i) {
    // Appends, not operator+ chains: GCC 12 reports a false -Wrestrict on those.
    user.append("[").append(std::to_string(i + 1)).append("] ");
    if (!passages[i].title.empty()) user.append("(").append(passages[i].title).append(") ");
    user.append(passages[i].text).append("\n");
  }
  user.append("\nQuestion: ").append(question).append("\nAnswer:");
  auto* u = out.add_messages();
  u->set_role("user");
  u->set_content(user);
  return out;
}

bool is_refusal(const std::string& text) {
  std::string lower;
  for (unsigned char c : text) lower.push_back(static_cast<char>(std::tolower(c)));
  return lower.find("i don't know") != std::string::npos || lower.find("i do not know") != std::string::npos ||
         lower.find("don\xe2\x80\x99t know") != std::string::npos;
}

Result<std::unique_ptr<LmClientGenerator>> LmClientGenerator::create(const std::string& target,
                                                                    const transport::CurveClientOptions* curve) {
  transport::ClientOptions o;
  o.targets = {target};
  o.name = "lm";
  if (curve != nullptr) o.curve = *curve;
  // LM down must cost little: fail a call after a short wait for a live replica, and notice a
  // replica coming back quickly.
  o.max_wait_for_replica = std::chrono::milliseconds(300);
  o.probe_interval = std::chrono::milliseconds(100);
  auto client = transport::Client::create(o);
  if (!client.ok()) return client.status().with_context("LM client for " + target);
  return std::unique_ptr<LmClientGenerator>(new LmClientGenerator(std::move(*client)));
}

LmClientGenerator::LmClientGenerator(std::unique_ptr<transport::Client> client) : client_(std::move(client)) {}
LmClientGenerator::~LmClientGenerator() = default;

Result<std::string> LmClientGenerator::generate(const v1::ChatMessages& messages, const v1::SamplingParams& params,
                                                std::chrono::steady_clock::time_point deadline) {
  v1::GenerateRequest req;
  *req.mutable_messages() = messages;
  *req.mutable_params() = params;
  v1::Envelope env;
  env.set_method("parley.v1.Lm/Generate");
  env.mutable_payload()->PackFrom(req);
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::string text;
    Status error;
    bool done = false;
  };
  auto st = std::make_shared<State>();
  transport::CallOptions opts;
  opts.deadline = deadline;
  auto handle = client_->call(env, opts, [st](Result<v1::Envelope> reply) {
    std::lock_guard lock(st->mu);
    if (st->done) return;
    if (!reply.ok()) {
      st->error = reply.status();
      st->done = true;
    } else {
      v1::GenerateResponse r;
      if (reply->has_payload() && reply->payload().UnpackTo(&r)) st->text += r.text_delta();
      if (reply->end_of_stream()) st->done = true;
    }
    if (st->done) st->cv.notify_all();
  });
  std::unique_lock lock(st->mu);
  // The transport ends the call by its deadline; the extra second only guards against a bug.
  if (!st->cv.wait_until(lock, deadline + std::chrono::seconds(1), [&] { return st->done; })) {
    lock.unlock();
    handle.cancel();
    return deadline_exceeded("LM did not finish by the deadline");
  }
  if (!st->error.is_ok()) return st->error;
  return st->text;
}

}  // namespace parley::qa
