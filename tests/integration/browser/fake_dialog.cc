// FakeDialog implementation: routes of the documented /v1 API with canned proto3-JSON bodies.
// Depends on fake_dialog.h, shared/http.
#include "tests/integration/browser/fake_dialog.h"

#include <fstream>
#include <sstream>
#include <thread>

namespace parley::testing {
namespace {

std::string text_of(const std::string& body) {
  // The page sends {"sessionId":..,"text":".."}; the canned texts have no escapes.
  auto k = body.find("\"text\":\"");
  if (k == std::string::npos) return "";
  auto start = k + 8;
  return body.substr(start, body.find('"', start) - start);
}

}  // namespace

FakeDialog::FakeDialog(std::string web_dir)
    : web_dir_(std::move(web_dir)), server_({.host = "127.0.0.1", .port = 0, .threads = 2}) {
  server_.route(http::Method::kGet, "/", [this](const http::Request&) {
    return file("index.html", "text/html; charset=utf-8");
  });
  // Same layout as parley-dialog: the page at "/", its files under /static/.
  server_.route(http::Method::kGet, "/static/{file}", [this](const http::Request& r) {
    const std::string name(r.path_param("file"));
    if (name == "app.js" || name == "voice.js" || name == "capture-worklet.js") {
      return file(name, "text/javascript; charset=utf-8");
    }
    if (name == "style.css") return file(name, "text/css; charset=utf-8");
    return http::Response::json(404, R"({"error":{"code":"NOT_FOUND","message":"no static file"}})");
  });
  server_.route(http::Method::kGet, "/v1/bots", [](const http::Request&) {
    return http::Response::json(200, R"({"bots":[{"id":"demo","name":"Parley Hotel concierge",
      "description":"Books rooms and tables at the Parley Hotel.","version":"1.0","intents":["greet"],
      "nluTrained":true,"kbIngested":true}]})");
  });
  server_.route(http::Method::kPost, "/v1/bots/{bot}/sessions", [](const http::Request& r) {
    if (r.path_param("bot") != "demo") {
      return http::Response::json(404, R"({"error":{"code":"NOT_FOUND","message":"no bot 'x'"}})");
    }
    return http::Response::json(200, R"({"id":"s-fake-1","botId":"demo","createdAtUnixMs":"1"})");
  });
  server_.route(http::Method::kDelete, "/v1/sessions/{id}", [](const http::Request&) {
    return http::Response::json(200, "{}");
  });
  server_.route(http::Method::kPost, "/v1/sessions/{id}/turns", [this](const http::Request& r) {
    ++plain_turn_requests_;
    const std::string text = text_of(r.body);
    if (text == "break") {
      return http::Response::json(503, R"({"error":{"code":"UNAVAILABLE","message":"nlu is down [fake]"}})");
    }
    return http::Response::json(200, turn_json(std::string(r.path_param("id")), text));
  });
  server_.route_async(
      http::Method::kPost, "/v1/sessions/{id}/turns:stream",
      [this](http::Request r, std::shared_ptr<http::ResponseWriter> w) {
        ++stream_requests_;
        const std::string text = text_of(r.body);
        if (text == "break") {
          w->send(http::Response::json(503, R"({"error":{"code":"UNAVAILABLE","message":"nlu is down [fake]"}})"));
          return;
        }
        const std::string final_json = turn_json(std::string(r.path_param("id")), text);
        w->start_sse();
        if (text != "tell me a joke") {
          w->write_event(final_json, "turn");
          w->finish();
          return;
        }
        std::thread([this, w, final_json] {
          w->write_event(R"({"text":"Why did the "})", "token");
          w->write_event(R"({"text":"robot "})", "token");
          {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::seconds(20), [this] { return released_; });
          }
          w->write_event(R"({"text":"cross the road?"})", "token");
          w->write_event(final_json, "turn");
          w->finish();
        }).detach();
      });
}

FakeDialog::~FakeDialog() {
  release_stream();
  server_.stop(std::chrono::milliseconds(500));
}

Status FakeDialog::start() { return server_.start(); }

void FakeDialog::release_stream() {
  {
    std::lock_guard lock(mu_);
    released_ = true;
  }
  cv_.notify_all();
}

http::Response FakeDialog::file(const std::string& name, const std::string& type) const {
  std::ifstream f(web_dir_ + "/" + name, std::ios::binary);
  if (!f) return http::Response::json(404, R"({"error":{"code":"NOT_FOUND","message":"no file"}})");
  std::stringstream ss;
  ss << f.rdbuf();
  return http::Response::text(200, ss.str(), type);
}

std::string FakeDialog::turn_json(const std::string& session, const std::string& text) {
  int turn = 0;
  {
    std::lock_guard lock(mu_);
    turn = ++turns_;
  }
  const std::string head = R"({"sessionId":")" + session + R"(","turn":)" + std::to_string(turn) + ",";
  const std::string timings =
      R"("timings":[{"stage":"nlu","durationUs":"1800"},{"stage":"policy","durationUs":"45"})";
  if (text == "hello") {
    return head + R"("messages":[{"text":"Hello! I can book a room or a table, or answer questions about the hotel.","kind":"response"}],
      "intent":{"name":"greet","confidence":0.97},"nluModel":"fine-tuned","outcome":"ok",)" + timings + "]}";
  }
  if (text == "book a table for 4 at 7pm") {
    return head + R"("messages":[{"text":"A table for 4 at 19:00. Under what name?","kind":"slot_prompt"}],
      "intent":{"name":"book_table","confidence":0.93},
      "slots":[{"slot":"party_size","rawValue":"4","value":"4","confidence":0.9},
               {"slot":"time","rawValue":"7pm","value":"19:00","confidence":0.88}],
      "events":[{"type":"form_started","name":"table_booking"},{"type":"slot_set","name":"party_size","value":"4"},
                {"type":"slot_set","name":"time","value":"19:00"}],
      "activeForm":"table_booking","requestedSlot":"guest_name","outcome":"ok",
      "sessionSlots":{"party_size":"4","time":"19:00"},)" + timings + "]}";
  }
  if (text == "when is breakfast") {
    return head + R"("messages":[{"text":"Breakfast is served from 7:00 to 10:30 in the Garden Room.","kind":"answer",
        "sources":[{"id":"dining#2","documentId":"dining","title":"Dining","text":"Breakfast is served daily from 7:00 to 10:30.","score":0.81}]}],
      "intent":{"name":"ask_hotel","confidence":0.71},
      "sources":[{"id":"dining#2","documentId":"dining","title":"Dining","text":"Breakfast is served daily from 7:00 to 10:30.","score":0.81}],
      "activeForm":"table_booking","requestedSlot":"guest_name","outcome":"ok",
      "sessionSlots":{"party_size":"4","time":"19:00"},)" + timings + R"(,{"stage":"qa","durationUs":"23000"}]})";
  }
  if (text == "tell me a joke") {
    return head + R"("messages":[{"text":"Why did the robot cross the road?","kind":"generated"}],
      "intent":{"name":"out_of_scope","confidence":0.31},"outcome":"fallback",
      "errors":[{"code":"DEADLINE_EXCEEDED","message":"qa: slow [fake]"}],
      "sessionSlots":{"party_size":"4","time":"19:00"},)" + timings + R"(,{"stage":"lm","durationUs":"412000"}]})";
  }
  return head + R"("messages":[{"text":"Sorry, I did not get that.","kind":"fallback"}],"outcome":"fallback"})";
}

}  // namespace parley::testing
