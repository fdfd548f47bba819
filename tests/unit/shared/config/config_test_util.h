// Helpers for the config tests: a test schema and throwaway YAML files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "shared/config/base_schema.h"
#include "shared/config/config.h"

namespace parley::config::testing {

/// The base schema plus one key of every type not already in it.
inline Schema test_schema() {
  Schema s = service_base_schema("parley-test", "Test program.");
  s.add_double("test.ratio", 0.5, "A ratio.", double_range(0, 1));
  s.add_list("test.hosts", {"a", "b"}, "Hosts.");
  s.add_list("test.modes", {}, "Modes.", one_of({"fast", "slow"}));
  return s;
}

/// A YAML file in a fresh directory under the test temp dir; removed by the destructor.
class TempYaml {
 public:
  explicit TempYaml(const std::string& text) {
    std::string tmpl = ::testing::TempDir() + "parley_config_XXXXXX";
    char* dir = ::mkdtemp(tmpl.data());
    EXPECT_NE(dir, nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/service.yaml";
    std::ofstream(path_) << text;
  }
  ~TempYaml() {
    std::remove(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  TempYaml(const TempYaml&) = delete;
  TempYaml& operator=(const TempYaml&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace parley::config::testing
