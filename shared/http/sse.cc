// SSE framing (see sse.h). Follows the WHATWG event-stream grammar: a field per line, events
// separated by a blank line. Depends on nothing.
#include "shared/http/sse.h"

namespace parley::http {
namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  for (char c : value) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += '\n';
}

}  // namespace

std::string format_sse_event(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 16);
  if (!event.empty()) append_field(out, "event", event);
  if (!id.empty()) append_field(out, "id", id);
  std::size_t start = 0;
  while (true) {
    std::size_t eol = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
    out += '\n';
    if (eol == std::string_view::npos) break;
    start = eol + 1;
    if (data[eol] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out += '\n';
  return out;
}

std::string format_sse_comment(std::string_view text) {
  std::string out = ": ";
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += "\n\n";
  return out;
}

}  // namespace parley::http
