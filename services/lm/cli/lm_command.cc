// `parley lm` implementation (see lm_command.h): one GenerateRequest, sent over the transport or
// handed to an in-process LmService; deltas printed as they arrive.
// Depends on services/lm/lm_service.h, shared/transport/client.h.
#include "services/lm/cli/lm_command.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>

#include "parley/v1/envelope.pb.h"
#include "parley/v1/lm.pb.h"
#include "services/lm/lm_service.h"
#include "shared/transport/client.h"

namespace parley::lm {
namespace {

struct Args {
  std::string target = "tcp://127.0.0.1:7104";
  std::string local;
  std::string weights = "int8";
  int threads = 0;
  int timeout_ms = 120'000;
  bool chat = false;
  bool stats = false;
  std::string system;
  std::string prompt;
  v1::SamplingParams params;
};

std::optional<std::string> parse(const std::vector<std::string>& args, Args& a) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& k = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto number = [&](auto& dst) -> std::optional<std::string> {
      auto v = value();
      if (!v) return k + " needs a value";
      char* end = nullptr;
      const double d = std::strtod(v->c_str(), &end);
      if (end == v->c_str() || *end != '\0') return k + ": '" + *v + "' is not a number";
      dst = static_cast<std::remove_reference_t<decltype(dst)>>(d);
      return std::nullopt;
    };
    std::optional<std::string> e;
    if (k == "--target") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.target = *v;
    } else if (k == "--local") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.local = *v;
    } else if (k == "--weights") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.weights = *v;
    } else if (k == "--system") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.system = *v;
    } else if (k == "--stop") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.params.add_stop(*v);
    } else if (k == "--chat") {
      a.chat = true;
    } else if (k == "--stats") {
      a.stats = true;
    } else if (k == "--ignore-eos") {
      a.params.set_ignore_eos(true);
    } else if (k == "--threads") {
      e = number(a.threads);
    } else if (k == "--timeout-ms") {
      e = number(a.timeout_ms);
    } else if (k == "--max-tokens") {
      std::int32_t n = 0;
      e = number(n);
      a.params.set_max_tokens(n);
    } else if (k == "--temperature") {
      float t = 0;
      e = number(t);
      a.params.set_temperature(t);
    } else if (k == "--top-k") {
      std::int32_t n = 0;
      e = number(n);
      a.params.set_top_k(n);
    } else if (k == "--top-p") {
      float p = 0;
      e = number(p);
      a.params.set_top_p(p);
    } else if (k == "--repetition-penalty") {
      float p = 0;
      e = number(p);
      a.params.set_repetition_penalty(p);
    } else if (k == "--seed") {
      double s = 0;
      e = number(s);
      a.params.set_seed(static_cast<std::uint64_t>(s));
    } else if (k.rfind("--", 0) == 0) {
      return "unknown option " + k;
    } else {
      a.prompt += (a.prompt.empty() ? "" : " ") + k;
    }
    if (e) return e;
  }
  if (a.prompt.empty()) return std::string("no prompt given");
  return std::nullopt;
}

v1::GenerateRequest make_request(const Args& a) {
  v1::GenerateRequest req;
  if (a.chat) {
    auto* msgs = req.mutable_messages();
    if (!a.system.empty()) {
      auto* s = msgs->add_messages();
      s->set_role("system");
      s->set_content(a.system);
    }
    auto* u = msgs->add_messages();
    u->set_role("user");
    u->set_content(a.prompt);
  } else {
    req.set_prompt(a.prompt);
  }
  *req.mutable_params() = a.params;
  return req;
}

void print_stats(std::ostream& err, const v1::GenerateResponse& last, Clock::duration wall) {
  const auto& u = last.usage();
  const double secs = std::chrono::duration<double>(wall).count();
  const double decode_s = static_cast<double>(u.total_us() - u.time_to_first_token_us()) / 1e6;
  err << "[" << last.finish_reason() << "] prompt " << u.prompt_tokens() << " tokens, completion "
      << u.completion_tokens() << " tokens; first token " << std::fixed << std::setprecision(1)
      << static_cast<double>(u.time_to_first_token_us()) / 1000.0 << " ms; ";
  if (u.completion_tokens() > 1 && decode_s > 0) {
    err << std::setprecision(1) << (u.completion_tokens() - 1) / decode_s << " tok/s decode; ";
  }
  err << std::setprecision(2) << secs << " s wall; seed " << last.seed() << "\n";
}

int run_local(const Args& a, std::ostream& out, std::ostream& err) {
  LmServiceOptions o;
  o.model_path = a.local;
  auto precision = parse_precision(a.weights);
  if (!precision.ok()) {
    err << "parley lm: " << precision.status().message() << "\n";
    return 2;
  }
  o.precision = *precision;
  o.threads = a.threads;
  o.max_batch = 1;
  o.kv_pages = 256;
  o.max_tokens_limit = 1 << 20;
  o.max_prompt_tokens = 1 << 20;
  auto svc = LmService::create(o, nullptr);
  if (!svc.ok()) {
    err << "parley lm: " << svc.status().to_string() << "\n";
    return 1;
  }
  const auto start = Clock::now();
  v1::GenerateResponse last;
  Status st = (*svc)->generate(
      make_request(a), start + std::chrono::milliseconds(a.timeout_ms),
      [&](const v1::GenerateResponse& r) {
        out << r.text_delta() << std::flush;
        if (!r.finish_reason().empty()) last = r;
        return true;
      },
      [] { return false; });
  out << "\n";
  if (!st.is_ok()) {
    err << "parley lm: " << st.to_string() << "\n";
    return 1;
  }
  if (a.stats) print_stats(err, last, Clock::now() - start);
  return 0;
}

int run_remote(const Args& a, std::ostream& out, std::ostream& err) {
  transport::ClientOptions options;
  options.targets = {a.target};
  options.name = "lm";
  options.max_wait_for_replica = std::chrono::milliseconds(std::min(a.timeout_ms, 5000));
  auto client = transport::Client::create(options);
  if (!client.ok()) {
    err << "parley lm: " << client.status().to_string() << "\n";
    return 1;
  }
  v1::Envelope env;
  env.set_method("parley.v1.Lm/Generate");
  env.mutable_payload()->PackFrom(make_request(a));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status failure;
  v1::GenerateResponse last;
  const auto start = Clock::now();
  transport::CallOptions co;
  co.timeout = std::chrono::milliseconds(a.timeout_ms);
  (*client)->call(std::move(env), co, [&](Result<v1::Envelope> r) {
    std::lock_guard lock(mu);
    if (done) return;
    if (!r.ok()) {
      failure = r.status();
      done = true;
    } else {
      if (r->has_payload()) {
        v1::GenerateResponse part;
        if (!r->payload().UnpackTo(&part)) {
          failure = internal_error("reply is not a GenerateResponse");
          done = true;
        } else {
          out << part.text_delta() << std::flush;
          if (!part.finish_reason().empty()) last = part;
        }
      }
      if (r->end_of_stream()) done = true;
    }
    if (done) cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  out << "\n";
  if (!failure.is_ok()) {
    err << "parley lm: " << failure.to_string() << "\n";
    return 1;
  }
  if (a.stats) print_stats(err, last, Clock::now() - start);
  return 0;
}

}  // namespace

std::string lm_command_usage() {
  return "  parley lm [--target tcp://127.0.0.1:7104 | --local MODEL.gguf [--weights int8|f32|native] [--threads N]]\n"
         "            [--chat [--system TEXT]] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P]\n"
         "            [--repetition-penalty R] [--seed S] [--stop S]... [--ignore-eos] [--timeout-ms N] [--stats] PROMPT\n";
}

int run_lm_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Args a;
  if (auto e = parse(args, a)) {
    err << "parley lm: " << *e << "\nusage:\n" << lm_command_usage();
    return 2;
  }
  return a.local.empty() ? run_remote(a, out, err) : run_local(a, out, err);
}

int run_lm_command(std::vector<std::string> args) { return run_lm_command(args, std::cout, std::cerr); }

}  // namespace parley::lm
