// Did-you-mean hints for unknown config keys, environment variables and flags.
// Exists because "unknown key 'servce.workers'" is half an error; naming the close match makes it
// one a user can fix at a glance. Depends on the standard library only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::config {

/// Levenshtein edit distance (insert, delete, substitute; each costs 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `unknown`, when it is close enough to be a likely typo: within an
/// edit distance of max(1, min(3, length/3)), or the only candidate whose last dotted segment
/// equals `unknown` ("port" -> "http.port"). Ties go to the first candidate.
std::optional<std::string> closest_match(std::string_view unknown,
                                         const std::vector<std::string>& candidates);

}  // namespace parley::config
