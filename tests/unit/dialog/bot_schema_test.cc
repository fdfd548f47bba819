// bot.schema.json and the loader agree: every definition the loader knows has exactly the keys the
// loader accepts, closed to others; the slot types and answer modes match; the demo bot loads.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "services/dialog/bot/loader.h"

namespace parley::dialog {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Struct load_schema() {
  std::ifstream in(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bot/bot.schema.json");
  std::ostringstream buf;
  buf << in.rdbuf();
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(buf.str(), &s);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return s;
}

/// The object schema of a definition (the object branch of a oneOf, for "intent").
const Struct* object_of(const Struct& def) {
  if (def.fields().contains("properties")) return &def;
  auto it = def.fields().find("oneOf");
  if (it == def.fields().end()) return nullptr;
  for (const auto& v : it->second.list_value().values()) {
    if (v.struct_value().fields().contains("properties")) return &v.struct_value();
  }
  return nullptr;
}

TEST(BotSchema, EveryLoaderKeyIsInTheSchemaAndNothingElse) {
  Struct schema = load_schema();
  const auto& defs = schema.fields().at("$defs").struct_value().fields();
  for (const auto& [kind, keys] : accepted_keys()) {
    ASSERT_TRUE(defs.contains(kind)) << "schema has no $defs/" << kind;
    const Struct* obj = object_of(defs.at(kind).struct_value());
    ASSERT_NE(obj, nullptr) << kind;
    std::set<std::string> in_schema;
    for (const auto& [k, v] : obj->fields().at("properties").struct_value().fields()) in_schema.insert(k);
    std::set<std::string> in_loader(keys.begin(), keys.end());
    EXPECT_EQ(in_schema, in_loader) << "$defs/" << kind << " and the loader disagree";
    ASSERT_TRUE(obj->fields().contains("additionalProperties")) << kind;
    EXPECT_FALSE(obj->fields().at("additionalProperties").bool_value()) << kind << " must be closed";
  }
}

TEST(BotSchema, EnumsMatchTheLoader) {
  Struct schema = load_schema();
  const auto& defs = schema.fields().at("$defs").struct_value().fields();
  std::set<std::string> types;
  for (const auto& v : defs.at("slot").struct_value().fields().at("properties").struct_value().fields().at("type")
                           .struct_value().fields().at("enum").list_value().values()) {
    types.insert(v.string_value());
  }
  std::set<std::string> expected;
  for (SlotType t : {SlotType::kCategorical, SlotType::kRegex, SlotType::kNumber, SlotType::kDate, SlotType::kTime,
                     SlotType::kDateTime, SlotType::kText}) {
    expected.insert(std::string(slot_type_name(t)));
  }
  EXPECT_EQ(types, expected);
  // Each enum value is accepted by the loader (and a value outside it is not).
  for (const auto& t : types) {
    std::string extra = t == "categorical" ? ", values: [a]" : t == "regex" ? ", pattern: 'x'" : "";
    std::string y = "bot: {id: t}\nslots:\n  s: {type: " + t + extra + "}\nintents: {a: [x], b: [y]}\n";
    EXPECT_TRUE(parse_bot(y, "t.yaml", "").ok()) << t << ": " << parse_bot(y, "t.yaml", "").status().to_string();
  }
  EXPECT_FALSE(parse_bot("bot: {id: t}\nslots:\n  s: {type: float}\nintents: {a: [x], b: [y]}\n", "t.yaml", "").ok());

  // nlu.fine_tune: every schema value loads (false as YAML writes it), and the loader's modes are
  // all in the schema.
  std::set<std::string> modes;
  for (const auto& v : defs.at("nlu").struct_value().fields().at("properties").struct_value().fields().at("fine_tune")
                           .struct_value().fields().at("enum").list_value().values()) {
    modes.insert(v.kind_case() == Value::kBoolValue ? (v.bool_value() ? "true" : "false") : v.string_value());
  }
  EXPECT_EQ(modes, (std::set<std::string>{"off", "full", "lora", "false"}));
  for (const auto& m : modes) {
    std::string y = "bot: {id: t}\nnlu: {fine_tune: " + m + "}\nintents: {a: [x], b: [y]}\n";
    EXPECT_TRUE(parse_bot(y, "t.yaml", "").ok()) << m << ": " << parse_bot(y, "t.yaml", "").status().to_string();
  }
}

TEST(BotSchema, DemoBotUsesOnlySchemaKeys) {
  // The loader rejects unknown keys and the first test ties the loader to the schema, so the demo
  // bot loading cleanly means it is valid against the schema's key sets.
  auto r = load_bot_file(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
}

}  // namespace
}  // namespace parley::dialog
