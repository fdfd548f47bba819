// The action-webhook step (see webhook_step.h).
// Depends on webhook_step.h, protobuf Struct and JSON utilities.
#include "services/dialog/engine/webhook_step.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

namespace parley::dialog {

std::string webhook_body(const TurnRun& run, const TurnScope& scope, const std::string& action) {
  const v1::Session& state = scope.state;
  google::protobuf::Struct body;
  auto& f = *body.mutable_fields();
  f["next_action"].set_string_value(action);
  f["sender_id"].set_string_value(scope.session_id);
  auto& tracker = *f["tracker"].mutable_struct_value()->mutable_fields();
  tracker["sender_id"].set_string_value(scope.session_id);
  auto& slots = *tracker["slots"].mutable_struct_value()->mutable_fields();
  for (const auto& [k, v] : state.slots()) slots[k].set_string_value(v);
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
  (*tracker["active_loop"].mutable_struct_value()->mutable_fields())["name"].set_string_value(state.active_form());
  auto& domain = *f["domain"].mutable_struct_value()->mutable_fields();
  domain["bot_id"].set_string_value(run.bot->id);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(body, &out);
  return out;
}

void apply_webhook_reply(TurnRun& run, const TurnScope& scope, const Result<std::string>& r, const std::string& action) {
  if (!r.ok()) {
    if (scope.metrics) {
      const char* reason = r.status().code() == StatusCode::kDeadlineExceeded   ? "timeout"
                           : r.status().code() == StatusCode::kUnavailable      ? "connect"
                           : r.status().code() == StatusCode::kInvalidArgument  ? "bad_response"
                           : r.status().code() == StatusCode::kPermissionDenied ? "not_allowed"
                           : r.status().code() == StatusCode::kCancelled        ? "cancelled"
                                                                                : "http_status";
      scope.metrics->webhook_errors.labels({reason}).inc();
    }
    service_failed(run, scope, "webhook " + action, r.status());
    return;
  }
  google::protobuf::Struct reply;
  if (!google::protobuf::util::JsonStringToMessage(*r, &reply).ok()) {
    if (scope.metrics) scope.metrics->webhook_errors.labels({"bad_response"}).inc();
    service_failed(run, scope, "webhook " + action, invalid_argument("reply is not a JSON object"));
    return;
  }
  v1::Session& state = scope.state;
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
        state.mutable_slots()->erase(slot);
      } else if (value->second.has_number_value()) {
        double v = value->second.number_value();
        (*state.mutable_slots())[slot] = v == static_cast<long long>(v) ? std::to_string(static_cast<long long>(v))
                                                                        : std::to_string(v);
      } else {
        (*state.mutable_slots())[slot] = value->second.string_value();
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

}  // namespace parley::dialog
