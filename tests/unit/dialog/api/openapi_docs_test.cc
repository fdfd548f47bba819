// openapi_docs.h: YAML -> JSON (types of scalars, nesting, errors with a line) and the embedded
// document (the same bytes as services/dialog/openapi.yaml, valid JSON once converted).
#include "services/dialog/api/openapi_docs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "shared/common/json_document.h"

namespace parley::dialog {
namespace {

TEST(YamlToJson, ScalarsKeepTheirYamlTypes) {
  auto j = yaml_to_json("a: 1\nb: \"1\"\nc: true\nd: 'true'\ne: ~\nf: -2.5e3\ng: 0x1F\nh: 007\ni: text\nj: null\n");
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  EXPECT_EQ(*j, R"({"a":1,"b":"1","c":true,"d":"true","e":null,"f":-2.5e3,"g":"0x1F","h":"007","i":"text","j":null})");
}

TEST(YamlToJson, NestingFlowStylesAndEscapes) {
  auto j = yaml_to_json("paths:\n  /v1/x: {get: {responses: {\"200\": {description: \"a \\\"q\\\"\\n\"}}}}\nlist: [1, [a, b], {k: v}]\n");
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  EXPECT_EQ(*j, R"({"paths":{"/v1/x":{"get":{"responses":{"200":{"description":"a \"q\"\n"}}}}},"list":[1,["a","b"],{"k":"v"}]})");
  auto anchors = yaml_to_json("a: &x {k: 1}\nb: *x\n");
  ASSERT_TRUE(anchors.ok());
  EXPECT_EQ(*anchors, R"({"a":{"k":1},"b":{"k":1}})");
}

TEST(YamlToJson, BadYamlNamesTheLine) {
  auto j = yaml_to_json("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(j.status().message().find("YAML line"), std::string::npos) << j.status().message();
}

TEST(OpenApiDocs, EmbeddedDocumentIsTheRepoFileAndConverts) {
  std::ifstream in(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/openapi.yaml", std::ios::binary);
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(openapi_yaml(), file.str());
  const auto& doc = openapi_json();
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  auto parsed = json::parse(*doc);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_NE(parsed->find("paths"), nullptr);
  EXPECT_NE(parsed->find("paths")->find("/v1/sessions/{id}/turns:stream"), nullptr);
}

}  // namespace
}  // namespace parley::dialog
