// The pre-parse scan of a bot's YAML (see limits.h): parser events only, sizes of anchored nodes
// remembered so an alias adds its expansion's size without expanding it.
// Depends on limits.h, yaml-cpp's event parser.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "services/dialog/bot/limits.h"

namespace parley::dialog {
namespace {

/// a + b, saturating (nested aliases grow sizes exponentially).
std::size_t add_sat(std::size_t a, std::size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

struct LimitExceeded {
  YAML::Mark mark;
  std::string what;
};

class Scanner final : public YAML::EventHandler {
 public:
  explicit Scanner(const BotLimits& limits) : limits_(limits) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, 0, 1); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (++aliases_ > limits_.max_aliases) {
      throw LimitExceeded{mark, "more than " + std::to_string(limits_.max_aliases) + " aliases"};
    }
    auto it = sizes_.find(anchor);
    const Size s = it == sizes_.end() ? Size{0, 1} : it->second;
    add(mark, s);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    leaf(mark, anchor, value.size(), 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Size {
    std::size_t bytes = 0;
    std::size_t nodes = 0;
  };
  struct Open {
    YAML::Mark mark;
    YAML::anchor_t anchor;
    Size size;
  };

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t bytes, std::size_t nodes) {
    const Size s{bytes, nodes};
    if (anchor != YAML::NullAnchor) sizes_[anchor] = s;
    add(mark, s);
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() + 1 > limits_.max_depth) {
      throw LimitExceeded{mark, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels"};
    }
    count(mark, Size{0, 1});
    stack_.push_back(Open{mark, anchor, Size{0, 1}});
  }
  void close() {
    if (stack_.empty()) return;
    Open o = stack_.back();
    stack_.pop_back();
    if (o.anchor != YAML::NullAnchor) sizes_[o.anchor] = o.size;
    propagate(o.size);  // its contents were counted as they arrived
  }
  // A leaf, or an alias's whole expansion: counted once, and added to the open collection.
  void add(const YAML::Mark& mark, Size s) {
    count(mark, s);
    propagate(s);
  }
  void propagate(Size s) {
    if (stack_.empty()) return;
    Size& into = stack_.back().size;
    into.bytes = add_sat(into.bytes, s.bytes);
    into.nodes = add_sat(into.nodes, s.nodes);
  }
  void count(const YAML::Mark& mark, Size s) {
    expanded_ = add_sat(expanded_, s.bytes);
    nodes_ = add_sat(nodes_, s.nodes);
    if (expanded_ > limits_.max_expanded_bytes) {
      throw LimitExceeded{mark, "the definition expands to more than " + std::to_string(limits_.max_expanded_bytes) +
                                    " bytes of text once its aliases are resolved"};
    }
    if (nodes_ > limits_.max_nodes) {
      throw LimitExceeded{mark, "the definition has more than " + std::to_string(limits_.max_nodes) +
                                    " nodes once its aliases are resolved"};
    }
  }

  const BotLimits& limits_;
  std::vector<Open> stack_;
  std::unordered_map<YAML::anchor_t, Size> sizes_;
  std::size_t aliases_ = 0;
  std::size_t expanded_ = 0;  // scalar bytes with every alias expanded, counted once each
  std::size_t nodes_ = 0;
};

std::string where(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

}  // namespace

Status check_yaml_limits(std::string_view yaml, const std::string& file_name, const BotLimits& limits) {
  if (yaml.size() > limits.max_bytes) {
    return out_of_range(file_name + ": the definition is " + std::to_string(yaml.size()) + " bytes; the limit is " +
                        std::to_string(limits.max_bytes) + " (dialog.bot_max_bytes)");
  }
  std::istringstream in{std::string(yaml)};
  Scanner scanner(limits);
  try {
    YAML::Parser parser(in);
    parser.HandleNextDocument(scanner);
  } catch (const LimitExceeded& e) {
    return out_of_range(where(file_name, e.mark) + ": " + e.what + " (bot definition limits, dialog.bot_*)");
  } catch (const YAML::Exception& e) {
    return invalid_argument(where(file_name, e.mark) + ": malformed YAML: " + e.msg);
  } catch (const std::exception& e) {
    return invalid_argument(file_name + ": malformed YAML: " + e.what());
  }
  return Status::ok();
}

}  // namespace parley::dialog
