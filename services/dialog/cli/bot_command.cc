// `parley bot validate|test|status` (see bot_command.h). Depends on bot_tests.h, api_call.h,
// the bot loader, protobuf JSON.
#include "services/dialog/cli/bot_command.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/bot/loader.h"
#include "services/dialog/cli/api_call.h"
#include "services/dialog/cli/bot_tests.h"

namespace parley::dialog {
namespace {

/// BOT_DIR -> BOT_DIR/bot.yaml; a file stays itself.
std::string bot_file_of(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return (std::filesystem::path(path) / "bot.yaml").string();
  return path;
}

std::string bot_dir_of(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path;
  return std::filesystem::path(path).parent_path().string();
}

/// Loads the bot and the syntax of its tests; prints every error. The bot, or null.
std::shared_ptr<const Bot> validate(const std::string& path, std::vector<ConversationTest>* tests, std::ostream& out,
                                    std::ostream& err, int& errors) {
  LoadResult r = load_bot_file(bot_file_of(path));
  for (const auto& e : r.errors) err << e.to_string() << "\n";
  errors += static_cast<int>(r.errors.size());
  std::vector<std::string> test_errors;
  std::size_t n_tests = 0;
  for (const auto& f : find_test_files(bot_dir_of(path))) {
    auto t = load_conversation_tests(f, test_errors);
    n_tests += t.size();
    if (tests) tests->insert(tests->end(), t.begin(), t.end());
  }
  for (const auto& e : test_errors) err << e << "\n";
  errors += static_cast<int>(test_errors.size());
  if (r.ok()) {
    out << "bot '" << r.bot->id << "' (" << bot_file_of(path) << "): " << r.bot->intents.size() << " intents, "
        << r.bot->forms.size() << " forms; " << n_tests << " conversation tests\n";
  }
  return r.bot;
}

/// The API the command calls: `url`, with `key` or else $PARLEY_API_KEY; false (the error
/// printed, prefixed by `command`) for a URL that is not http://host:port.
bool resolve_api(const std::string& url, std::string key, const char* command, ApiTarget& api, std::ostream& err) {
  if (key.empty()) {
    if (const char* k = std::getenv("PARLEY_API_KEY")) key = k;
  }
  std::string error;
  if (!parse_api_url(url, api, error)) {
    err << command << ": " << error << "\n";
    return false;
  }
  api.key = key;
  return true;
}

int run_validate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() != 1) {
    err << bot_command_usage();
    return 2;
  }
  int errors = 0;
  auto bot = validate(args[0], nullptr, out, err, errors);
  if (errors > 0) {
    err << errors << (errors == 1 ? " error" : " errors") << "\n";
    return 1;
  }
  out << "ok\n";
  return 0;
}

int run_test(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string dir, url = "http://127.0.0.1:8080", key, bot_id, filter;
  bool verbose = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    if (a == "--url") {
      if (!value(url)) return err << bot_command_usage(), 2;
    } else if (a == "--key") {
      if (!value(key)) return err << bot_command_usage(), 2;
    } else if (a == "--bot") {
      if (!value(bot_id)) return err << bot_command_usage(), 2;
    } else if (a == "--filter") {
      if (!value(filter)) return err << bot_command_usage(), 2;
    } else if (a == "--verbose" || a == "-v") {
      verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      err << "parley bot test: unknown option '" << a << "'\n" << bot_command_usage();
      return 2;
    } else if (dir.empty()) {
      dir = a;
    } else {
      err << "parley bot test: one BOT_DIR only\n" << bot_command_usage();
      return 2;
    }
  }
  if (dir.empty()) return err << bot_command_usage(), 2;
  ApiTarget api;
  std::string error;
  if (!resolve_api(url, key, "parley bot test", api, err)) return 2;

  int errors = 0;
  std::vector<ConversationTest> tests;
  auto bot = validate(dir, &tests, out, err, errors);
  if (errors > 0) {
    err << "parley bot test: fix the " << errors << (errors == 1 ? " error" : " errors") << " above first\n";
    return 1;
  }
  if (tests.empty()) {
    err << "parley bot test: no conversation tests in " << (std::filesystem::path(bot_dir_of(dir)) / "tests") << " (*.yml)\n";
    return 1;
  }
  if (bot_id.empty()) bot_id = bot->id;

  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  int passed = 0, failed = 0, steps_run = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& t : tests) {
    if (!filter.empty() && t.name.find(filter) == std::string::npos) continue;
    ApiReply r;
    if (!api_call(api, "POST", "/v1/bots/" + bot_id + "/sessions", "{}", r, error)) {
      err << "parley bot test: cannot reach " << url << ": " << error << " (is parley-dialog running?)\n";
      return 2;
    }
    if (r.status != 201) {
      err << "parley bot test: could not start a session with bot '" << bot_id << "' (HTTP " << r.status << "): " << r.body << "\n";
      return 2;
    }
    v1::Session session;
    (void)google::protobuf::util::JsonStringToMessage(r.body, &session, lenient);
    std::vector<std::string> report;
    for (std::size_t i = 0; i < t.steps.size(); ++i) {
      const TestStep& step = t.steps[i];
      v1::TurnRequest req;
      req.set_text(step.user);
      std::string body;
      (void)google::protobuf::util::MessageToJsonString(req, &body);
      ++steps_run;
      if (!api_call(api, "POST", "/v1/sessions/" + session.id() + "/turns", body, r, error)) {
        err << "parley bot test: " << error << "\n";
        return 2;
      }
      std::vector<std::string> diff;
      v1::TurnResponse turn;
      if (r.status != 200) {
        diff.push_back("the turn failed: HTTP " + std::to_string(r.status) + " " + r.body);
      } else {
        (void)google::protobuf::util::JsonStringToMessage(r.body, &turn, lenient);
        diff = check_step(step, turn);
      }
      if (verbose || !diff.empty()) {
        report.push_back("  step " + std::to_string(i + 1) + " (" + step.at.to_string() + ") user: \"" + step.user + "\"");
        if (verbose) {
          for (const auto& m : turn.messages()) report.push_back("    bot [" + m.kind() + "]: " + m.text());
        }
        for (const auto& d : diff) report.push_back("    " + d);
      }
      if (!diff.empty()) break;  // later steps depend on this one's state
    }
    const bool ok = std::none_of(report.begin(), report.end(), [](const std::string& l) {
      return l.rfind("    ", 0) == 0 && l.rfind("    bot [", 0) != 0;
    });
    out << (ok ? "PASS " : "FAIL ") << t.name << "  (" << t.at.to_string() << ")\n";
    for (const auto& l : report) out << l << "\n";
    (ok ? passed : failed) += 1;
    (void)api_call(api, "DELETE", "/v1/sessions/" + session.id(), "", r, error);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "\n" << passed + failed << " tests, " << steps_run << " turns: " << passed << " passed, " << failed << " failed ("
      << static_cast<int>(secs * 1000) << " ms)\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}

/// A whole number of seconds from a command-line value; nullopt when it is not one in [1, max].
std::optional<int> seconds_arg(const std::string& v, int max) {
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > max) return std::nullopt;
  return n;
}

/// The bot's NLU fine-tuning as one line: "asked" (the bot file), the job and the serving model.
std::string job_line(const v1::Bot& b) {
  std::ostringstream line;
  line << "NLU fine-tuning";
  if (!b.nlu_fine_tune_requested().empty()) line << " (asked: " << b.nlu_fine_tune_requested() << ")";
  line << ": ";
  if (!b.nlu_trained()) {
    line << "waiting for the NLU to train the bot" << (b.sync_error().empty() ? "" : " (" + b.sync_error() + ")");
    return line.str();
  }
  if (!b.has_nlu_fine_tune()) {
    line << "unknown (" << b.nlu_fine_tune_error() << ")";
    return line.str();
  }
  const v1::FineTuneStatus& ft = b.nlu_fine_tune();
  char buf[160];
  switch (ft.state()) {
    case v1::FineTuneStatus::NONE: line << "none"; break;
    case v1::FineTuneStatus::QUEUED: line << "QUEUED"; break;
    case v1::FineTuneStatus::RUNNING:
      if (ft.steps() == 0) {  // loading the base encoder and the bot's examples
        line << "RUNNING (starting)";
        break;
      }
      std::snprintf(buf, sizeof buf, "RUNNING %.0f%% (epoch %d/%d, step %lld/%lld, loss %.3f, %.1f s)",
                    100.0 * ft.progress(), ft.epoch(), ft.epochs(), static_cast<long long>(ft.step()),
                    static_cast<long long>(ft.steps()), ft.loss(), ft.elapsed_seconds());
      line << buf;
      break;
    case v1::FineTuneStatus::READY:
      std::snprintf(buf, sizeof buf, "READY after %.1f s (%lld steps, loss %.3f)", ft.elapsed_seconds(),
                    static_cast<long long>(ft.steps()), ft.loss());
      line << buf;
      break;
    case v1::FineTuneStatus::FAILED: line << "FAILED"; break;
    case v1::FineTuneStatus::CANCELLED: line << "CANCELLED"; break;
    default: line << "state " << static_cast<int>(ft.state()); break;
  }
  if (!ft.mode().empty() && ft.state() != v1::FineTuneStatus::NONE) line << ", mode " << ft.mode();
  if (!ft.message().empty()) line << ": " << ft.message();
  line << "; serving the " << (ft.serving().empty() ? "frozen" : ft.serving()) << " model";
  if (b.nlu_replicas_size() > 1) {  // the line above is the replica furthest behind
    int tuned = 0;
    for (const auto& r : b.nlu_replicas()) tuned += r.fine_tune().serving() == "fine-tuned" ? 1 : 0;
    line << " [" << b.nlu_replicas_size() << " NLU replicas, " << tuned << " serving the fine-tuned model]";
  }
  if (!b.nlu_fine_tune_error().empty()) line << " (" << b.nlu_fine_tune_error() << ")";
  return line.str();
}

/// The job has ended (or there is none) on a bot the NLU has.
bool job_settled(const v1::Bot& b) {
  if (!b.nlu_trained() || !b.has_nlu_fine_tune()) return false;
  const auto st = b.nlu_fine_tune().state();
  return st != v1::FineTuneStatus::QUEUED && st != v1::FineTuneStatus::RUNNING;
}

int run_status(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string url = "http://127.0.0.1:8080", key, bot_id;
  bool wait = false;
  int timeout_s = 900;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= args.size()) return false;
      v = args[++i];
      return true;
    };
    std::string v;
    if (a == "--url") {
      if (!value(url)) return err << bot_command_usage(), 2;
    } else if (a == "--key") {
      if (!value(key)) return err << bot_command_usage(), 2;
    } else if (a == "--wait") {
      wait = true;
    } else if (a == "--timeout") {
      std::optional<int> t;
      if (!value(v) || !(t = seconds_arg(v, 86400))) {
        err << "parley bot status: --timeout takes whole seconds from 1 to 86400, got '" << v << "'\n";
        return 2;
      }
      timeout_s = *t;
    } else if (!a.empty() && a[0] == '-') {
      err << "parley bot status: unknown option '" << a << "'\n" << bot_command_usage();
      return 2;
    } else if (bot_id.empty()) {
      bot_id = a;
    } else {
      err << "parley bot status: one BOT_ID only\n" << bot_command_usage();
      return 2;
    }
  }
  if (bot_id.empty()) return err << bot_command_usage(), 2;
  // The id goes into the URL path as it is: only what a bot id may be (the loader's rule).
  const bool id_ok = bot_id.size() <= 63 && std::all_of(bot_id.begin(), bot_id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }) && bot_id[0] != '_' && bot_id[0] != '-';
  if (!id_ok) {
    err << "parley bot status: '" << bot_id << "' is not a bot id (lower-case letters, digits, '-' and '_', at most 63)\n";
    return 2;
  }
  ApiTarget api;
  std::string error;
  if (!resolve_api(url, key, "parley bot status", api, err)) return 2;

  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string last;
  bool first = true, noted = false, kb_noted = false;
  for (;;) {
    ApiReply r;
    if (!api_call(api, "GET", "/v1/bots/" + bot_id, "", r, error)) {
      err << "parley bot status: cannot reach " << url << ": " << error << " (is parley-dialog running?)\n";
      return 2;
    }
    if (r.status != 200) {
      err << "parley bot status: bot '" << bot_id << "': HTTP " << r.status << " " << r.body << "\n";
      return 2;
    }
    v1::Bot b;
    if (!google::protobuf::util::JsonStringToMessage(r.body, &b, lenient).ok()) {
      err << "parley bot status: the reply is not a Bot: " << r.body.substr(0, 200) << "\n";
      return 2;
    }
    if (first) {
      out << "bot '" << b.id() << "' (" << b.name() << "): " << b.intents_size() << " intents, " << b.forms_size()
          << " forms; NLU " << (b.nlu_trained() ? "trained" : "not trained yet") << ", knowledge base "
          << (b.kb_ingested() ? "ingested" : "not ingested yet") << "\n";
      first = false;
    }
    if (!noted && b.nlu_warnings_size() > 0) {  // the NLU's notes on the training data, once
      for (const auto& w : b.nlu_warnings()) out << "NLU note: " << w << "\n";
      noted = true;
    }
    if (!kb_noted && b.kb_warnings_size() > 0) {
      for (const auto& w : b.kb_warnings()) out << "knowledge base note: " << w << "\n";
      kb_noted = true;
    }
    const std::string line = job_line(b);
    if (line != last) out << line << "\n" << std::flush;
    last = line;
    const bool settled = job_settled(b);
    if (!wait || settled) {
      const auto st = b.has_nlu_fine_tune() ? b.nlu_fine_tune().state() : v1::FineTuneStatus::NONE;
      return st == v1::FineTuneStatus::FAILED || st == v1::FineTuneStatus::CANCELLED ? 1 : 0;
    }
    if (std::chrono::steady_clock::now() >= until) {
      err << "parley bot status: the fine-tuning job did not end within " << timeout_s << " s\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

const char* bot_command_usage() {
  return "  parley bot validate BOT_DIR|BOT_FILE   (the loader's file:line:col errors; tests' syntax)\n"
         "  parley bot test BOT_DIR [--url http://127.0.0.1:8080] [--key KEY|$PARLEY_API_KEY] [--bot ID] [--filter TEXT] [-v]\n"
         "      (runs BOT_DIR/tests/*.yml against a running parley-dialog)\n"
         "  parley bot status BOT_ID [--url http://127.0.0.1:8080] [--key KEY|$PARLEY_API_KEY] [--wait] [--timeout 900]\n"
         "      (the bot's NLU training and fine-tuning job; --wait: until the job ends, exit 1 if it failed)\n";
}

int run_bot_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "usage:\n" << bot_command_usage();
    return 2;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "validate") return run_validate(rest, out, err);
  if (args[0] == "test") return run_test(rest, out, err);
  if (args[0] == "status") return run_status(rest, out, err);
  err << "parley bot: unknown subcommand '" << args[0] << "'\nusage:\n" << bot_command_usage();
  return 2;
}

}  // namespace parley::dialog
