// Prometheus text exposition format 0.0.4: number formatting and escaping rules.
// Exists so the registry, tests and any hand-written exposition agree byte for byte with what
// Prometheus and the Go client produce (le="0.005", +Inf, NaN, escaped label values). Depends on nothing.
#pragma once

#include <string>
#include <string_view>

namespace parley::metrics {

/// The Content-Type a /metrics endpoint must send for Registry::render()'s output.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Appends `value` as the Go client does (strconv 'g', shortest round trip): "1", "0.005",
/// "2.5", "1e+06", "1.5e-05", and "+Inf", "-Inf", "NaN".
void append_double(std::string& out, double value);
std::string format_double(double value);

/// Label values: backslash -> \\, double quote -> \", newline -> \n. Invalid UTF-8 bytes become
/// U+FFFD, because one bad byte would make Prometheus reject the whole scrape.
void append_escaped_label_value(std::string& out, std::string_view value);
/// HELP text: backslash -> \\, newline -> \n (quotes stay as they are). Invalid UTF-8 -> U+FFFD.
void append_escaped_help(std::string& out, std::string_view help);

}  // namespace parley::metrics
