// Inline slot annotation parser: "[value](slot)" -> text + spans.
// A small hand-written scanner: the grammar is tiny and errors must name the exact offset.
// Depends on annotation.h.
#include "services/dialog/bot/annotation.h"

#include <cctype>
#include <cstdlib>

namespace parley::dialog {
namespace {

Status error_at(std::size_t offset, const std::string& what) {
  return invalid_argument("at " + std::to_string(offset) + ": " + what);
}

bool valid_name(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<AnnotatedExample> parse_annotated_example(std::string_view raw) {
  AnnotatedExample out;
  std::size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c == '\\' && i + 1 < raw.size() && (raw[i + 1] == '[' || raw[i + 1] == ']')) {
      out.text.push_back(raw[i + 1]);
      i += 2;
      continue;
    }
    if (c == ']') return error_at(i, "']' without an opening '[' (write \\] for a literal bracket)");
    if (c != '[') {
      out.text.push_back(c);
      ++i;
      continue;
    }
    const std::size_t open = i;
    std::size_t close = raw.find(']', open + 1);
    if (close == std::string_view::npos) return error_at(open, "'[' without a closing ']'");
    std::string_view value = raw.substr(open + 1, close - open - 1);
    if (value.find('[') != std::string_view::npos) return error_at(open, "nested '[' inside an annotation");
    if (close + 1 >= raw.size() || raw[close + 1] != '(') {
      return error_at(close, "']' must be followed by '(slot_name)' (write \\[ for a literal bracket)");
    }
    std::size_t paren = raw.find(')', close + 2);
    if (paren == std::string_view::npos) return error_at(close + 1, "'(' without a closing ')'");
    std::string_view slot = raw.substr(close + 2, paren - close - 2);
    if (value.empty() || value.find_first_not_of(' ') == std::string_view::npos) {
      return error_at(open, "empty annotated value '[]'");
    }
    if (!valid_name(slot)) {
      return error_at(close + 2, "bad slot name '" + std::string(slot) + "' (letters, digits, '_')");
    }
    v1::SlotSpan span;
    span.set_slot(std::string(slot));
    span.set_start(static_cast<int>(out.text.size()));
    out.text.append(value);
    span.set_end(static_cast<int>(out.text.size()));
    out.spans.push_back(std::move(span));
    i = paren + 1;
  }
  return out;
}

int annotation_error_offset(const Status& status) {
  const std::string& m = status.message();
  if (m.rfind("at ", 0) != 0) return -1;
  return std::atoi(m.c_str() + 3);
}

}  // namespace parley::dialog
