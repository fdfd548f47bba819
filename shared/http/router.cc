// Route matching: split the path into segments, decode each, pick the most literal match.
// Why decode per segment: an encoded '/' (%2F) inside an id must stay inside that id, never
// split the path. Depends on message.h.
#include "shared/http/router.h"

#include <algorithm>
#include <optional>

namespace parley::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);  // leading '/'
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool valid_param_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

Status Router::add(Method method, std::string_view pattern, std::size_t id) {
  std::string quoted = "route pattern '" + std::string(pattern) + "'";
  if (method == Method::kOther) return invalid_argument(quoted + ": method must be a known one");
  if (pattern.empty() || pattern[0] != '/') return invalid_argument(quoted + " must start with '/'");
  Route route{method, {}, id};
  for (std::string_view seg : split_path(pattern)) {
    Segment s;
    const auto close = seg.find('}');
    const bool verb = !seg.empty() && seg.front() == '{' && close != std::string_view::npos && close + 1 < seg.size() &&
                      seg[close + 1] == ':' && close + 2 < seg.size() && seg.substr(close + 1).find_first_of("{}") == std::string_view::npos;
    if (verb || (!seg.empty() && seg.front() == '{' && seg.back() == '}')) {
      s.param = true;
      s.text = std::string(seg.substr(1, close - 1));
      if (verb) s.suffix = std::string(seg.substr(close + 1));
      if (!valid_param_name(s.text)) return invalid_argument(quoted + ": bad parameter name '" + s.text + "'");
      for (const auto& other : route.segments) {
        if (other.param && other.text == s.text) {
          return invalid_argument(quoted + ": parameter '" + s.text + "' is repeated");
        }
      }
    } else if (seg.find_first_of("{}") != std::string_view::npos) {
      return invalid_argument(quoted + ": a parameter must be a whole segment, like /a/{id}/b");
    } else {
      s.text = std::string(seg);
    }
    route.segments.push_back(std::move(s));
  }
  for (const auto& r : routes_) {
    if (r.method != method || r.segments.size() != route.segments.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < r.segments.size() && same; ++i) {
      const auto& a = r.segments[i];
      const auto& b = route.segments[i];
      same = a.param == b.param && a.suffix == b.suffix && (a.param || a.text == b.text);
    }
    if (same) {
      return Status(StatusCode::kAlreadyExists,
                    quoted + ": " + std::string(method_name(method)) + " already has a route of this shape");
    }
  }
  routes_.push_back(std::move(route));
  return Status::ok();
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match result;
  if (path.empty() || path[0] != '/') {
    result.kind = Match::Kind::kBadPath;
    return result;
  }
  std::vector<std::string> decoded;
  for (std::string_view seg : split_path(path)) {
    auto d = percent_decode(seg, /*plus_as_space=*/false);
    if (!d) {
      result.kind = Match::Kind::kBadPath;
      return result;
    }
    decoded.push_back(std::move(*d));
  }

  // Specificity: literal-ness per segment, compared leftmost first.
  auto segment_matches = [](const Segment& s, const std::string& d) {
    if (!s.param) return s.text == d;
    return s.suffix.empty() || (d.size() > s.suffix.size() && d.compare(d.size() - s.suffix.size(), s.suffix.size(), s.suffix) == 0);
  };
  // Positions where a `{name}:verb` route matched: plain `{name}` routes do not claim them.
  std::vector<bool> verb_at(decoded.size(), false);
  for (const auto& r : routes_) {
    if (r.segments.size() != decoded.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; i < decoded.size() && ok; ++i) ok = segment_matches(r.segments[i], decoded[i]);
    if (!ok) continue;
    for (std::size_t i = 0; i < decoded.size(); ++i) {
      if (!r.segments[i].suffix.empty()) verb_at[i] = true;
    }
  }
  const Route* best = nullptr;
  const Route* best_get = nullptr;  // HEAD falls back to GET
  std::vector<bool> best_score, best_get_score;
  std::vector<Method> allowed;
  for (const auto& r : routes_) {
    if (r.segments.size() != decoded.size()) continue;
    std::vector<bool> score;
    bool ok = true;
    for (std::size_t i = 0; i < decoded.size() && ok; ++i) {
      const Segment& s = r.segments[i];
      ok = segment_matches(s, decoded[i]) && !(verb_at[i] && s.param && s.suffix.empty());
      score.push_back(!s.param || !s.suffix.empty());
    }
    if (!ok) continue;
    allowed.push_back(r.method);
    if (r.method == Method::kGet) allowed.push_back(Method::kHead);
    if (r.method == method && (best == nullptr || score > best_score)) {
      best = &r;
      best_score = score;
    }
    if (r.method == Method::kGet && (best_get == nullptr || score > best_get_score)) {
      best_get = &r;
      best_get_score = score;
    }
  }
  if (best == nullptr && method == Method::kHead) best = best_get;
  if (best != nullptr) {
    result.kind = Match::Kind::kFound;
    result.id = best->id;
    for (std::size_t i = 0; i < decoded.size(); ++i) {
      const Segment& s = best->segments[i];
      if (s.param) result.params[s.text] = decoded[i].substr(0, decoded[i].size() - s.suffix.size());
    }
    return result;
  }
  if (allowed.empty()) {
    result.kind = Match::Kind::kNotFound;
    return result;
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  result.kind = Match::Kind::kMethodNotAllowed;
  result.allowed = std::move(allowed);
  return result;
}

std::string Router::allow_header(const std::vector<Method>& methods) {
  std::string out;
  for (Method m : methods) {
    if (!out.empty()) out += ", ";
    out += method_name(m);
  }
  return out;
}

}  // namespace parley::http
