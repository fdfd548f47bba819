// Server-Sent Events framing (text/event-stream), the wire form of token streaming.
// Exists apart from the server so the framing rules are unit-tested on strings. Depends on nothing.
#pragma once

#include <string>
#include <string_view>

namespace parley::http {

/// Content-Type of an SSE response.
inline constexpr std::string_view kEventStreamContentType = "text/event-stream";

/// One event: "event: <event>\n" and "id: <id>\n" when given, one "data: <line>\n" per line of
/// `data` (split at CRLF, CR or LF, so a multi-line payload survives), then a blank line.
/// Newlines inside `event` and `id` would end the field early: they become spaces.
std::string format_sse_event(std::string_view data, std::string_view event = {}, std::string_view id = {});

/// ": <text>\n\n" — a comment, ignored by clients; used as a keep-alive ping.
std::string format_sse_comment(std::string_view text);

}  // namespace parley::http
