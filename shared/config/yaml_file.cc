// YAML config file reading and flattening (see yaml_file.h).
// Why read the bytes ourselves: YAML::LoadFile reports a missing file without the OS reason.
// Depends on yaml-cpp; every yaml-cpp exception is caught here.
#include "shared/config/yaml_file.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace parley::config {
namespace {

class Flattener {
 public:
  Flattener(const std::string& path, const std::function<bool(const std::string&)>& is_value_key)
      : path_(path), is_value_key_(is_value_key) {}

  Status flatten_map(const YAML::Node& map, const std::string& prefix) {
    for (const auto& kv : map) {
      const YAML::Node& key_node = kv.first;
      const YAML::Node& value = kv.second;
      if (!key_node.IsScalar() || key_node.Scalar().empty()) {
        return invalid_argument(where(key_node) + ": keys must be plain names");
      }
      const std::string key = prefix.empty() ? key_node.Scalar() : prefix + "." + key_node.Scalar();
      if (value.IsMap() && !is_value_key_(key)) {
        PARLEY_RETURN_IF_ERROR(flatten_map(value, key));
        continue;
      }
      YamlLeaf leaf;
      leaf.key = key;
      const YAML::Node& pos = value.IsNull() ? key_node : value;
      leaf.line = pos.Mark().line + 1;
      leaf.column = pos.Mark().column + 1;
      if (value.IsScalar()) {
        leaf.kind = YamlLeaf::Kind::kScalar;
        leaf.scalar = value.Scalar();
      } else if (value.IsSequence()) {
        leaf.kind = YamlLeaf::Kind::kList;
        for (const auto& item : value) {
          if (!item.IsScalar()) {
            return invalid_argument(key + ": list items must be plain values (from " + where(item) +
                                    ")");
          }
          leaf.items.push_back(item.Scalar());
        }
      } else if (value.IsMap()) {
        leaf.kind = YamlLeaf::Kind::kMap;
      } else {
        leaf.kind = YamlLeaf::Kind::kNull;
      }
      const auto [it, inserted] = first_line_.emplace(key, leaf.line);
      if (!inserted) {
        return invalid_argument(key + ": set twice in " + path_ + " (lines " +
                                std::to_string(it->second) + " and " + std::to_string(leaf.line) +
                                ")");
      }
      leaves_.push_back(std::move(leaf));
    }
    return Status::ok();
  }

  std::vector<YamlLeaf> take() { return std::move(leaves_); }

 private:
  std::string where(const YAML::Node& n) const {
    return path_ + ":" + std::to_string(n.Mark().line + 1) + ":" +
           std::to_string(n.Mark().column + 1);
  }

  const std::string& path_;
  const std::function<bool(const std::string&)>& is_value_key_;
  std::vector<YamlLeaf> leaves_;
  std::map<std::string, int> first_line_;
};

}  // namespace

Result<std::vector<YamlLeaf>> read_yaml_file(
    const std::string& path, const std::function<bool(const std::string&)>& is_value_key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return not_found("cannot read config file '" + path + "': " + std::strerror(errno));
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  try {
    const YAML::Node root = YAML::Load(bytes.str());
    if (root.IsNull()) return std::vector<YamlLeaf>{};
    if (!root.IsMap()) {
      return invalid_argument(path + ":" + std::to_string(root.Mark().line + 1) +
                              ": the top level must be a map of keys (key: value)");
    }
    Flattener flattener(path, is_value_key);
    PARLEY_RETURN_IF_ERROR(flattener.flatten_map(root, ""));
    return flattener.take();
  } catch (const YAML::Exception& e) {
    return invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                            std::to_string(e.mark.column + 1) + ": malformed YAML: " + e.msg);
  }
}

}  // namespace parley::config
