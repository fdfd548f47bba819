// Strict recursive-descent JSON parser (see json_document.h).
// Why: input comes from files users supply; every malformed byte must become a Status with a
// position, never a crash or a silent guess. Depends on json_document.h.
#include "shared/common/json_document.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <cmath>
#include <limits>
#include <system_error>

#include "shared/common/json.h"

namespace parley::json {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kNull: return "null";
    case Type::kBool: return "bool";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kArray: return "array";
    case Type::kObject: return "object";
  }
  return "?";
}

const std::string& Value::as_string() const {
  static const std::string kEmpty;
  return is_string() ? std::get<std::string>(v_) : kEmpty;
}
const Array& Value::as_array() const {
  static const Array kEmpty;
  return is_array() ? std::get<Array>(v_) : kEmpty;
}
const Object& Value::as_object() const {
  static const Object kEmpty;
  return is_object() ? std::get<Object>(v_) : kEmpty;
}
const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : std::get<Object>(v_)) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(std::string_view s, const ParseOptions& o) : s_(s), opt_(o) {}

  Result<Value> document() {
    skip_ws();
    Value v;
    PARLEY_RETURN_IF_ERROR(value(v, 0));
    skip_ws();
    if (pos_ != s_.size()) return error("unexpected data after the document");
    return v;
  }

 private:
  Status error(std::string_view what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return invalid_argument("json: " + std::string(what) + " at line " + std::to_string(line) + " column " +
                            std::to_string(col) + " (byte " + std::to_string(pos_) + ")");
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  bool consume(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status value(Value& out, int depth) {
    if (pos_ >= s_.size()) return error("unexpected end of input, expected a value");
    const char c = s_[pos_];
    switch (c) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': {
        std::string str;
        PARLEY_RETURN_IF_ERROR(string(str));
        out = Value(std::move(str));
        return Status::ok();
      }
      case 't':
        if (consume("true")) { out = Value(true); return Status::ok(); }
        return error("invalid literal");
      case 'f':
        if (consume("false")) { out = Value(false); return Status::ok(); }
        return error("invalid literal");
      case 'n':
        if (consume("null")) { out = Value(); return Status::ok(); }
        return error("invalid literal");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number(out);
        return error(std::string("unexpected character '") + (c >= 0x20 && c < 0x7f ? std::string(1, c) : "?") + "'");
    }
  }

  Status object(Value& out, int depth) {
    if (depth > opt_.max_depth) return error("nesting deeper than " + std::to_string(opt_.max_depth));
    ++pos_;  // '{'
    Object members;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      out = Value(std::move(members));
      return Status::ok();
    }
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return error("expected a string key");
      std::string key;
      PARLEY_RETURN_IF_ERROR(string(key));
      if (!opt_.allow_duplicate_keys) {
        for (const Member& m : members) {
          if (m.first == key) return error("duplicate key \"" + key + "\"");
        }
      }
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return error("expected ':'");
      ++pos_;
      skip_ws();
      Value v;
      PARLEY_RETURN_IF_ERROR(value(v, depth));
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (pos_ >= s_.size()) return error("unexpected end of input in an object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        break;
      }
      return error("expected ',' or '}'");
    }
    out = Value(std::move(members));
    return Status::ok();
  }

  Status array(Value& out, int depth) {
    if (depth > opt_.max_depth) return error("nesting deeper than " + std::to_string(opt_.max_depth));
    ++pos_;  // '['
    Array items;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      out = Value(std::move(items));
      return Status::ok();
    }
    while (true) {
      skip_ws();
      Value v;
      PARLEY_RETURN_IF_ERROR(value(v, depth));
      items.push_back(std::move(v));
      skip_ws();
      if (pos_ >= s_.size()) return error("unexpected end of input in an array");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        break;
      }
      return error("expected ',' or ']'");
    }
    out = Value(std::move(items));
    return Status::ok();
  }

  Status number(Value& out) {
    const std::size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return error("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') return error("leading zero in a number");
    } else {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return error("digit expected after '.'");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return error("digit expected in exponent");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    Number n;
    // from_chars is locale-independent (strtod is not).
    auto [p, ec] = std::from_chars(first, last, n.value);
    if (ec == std::errc::result_out_of_range) {
      // A tiny value like 1e-400 underflows: 0 is the right answer; a huge one is refused.
      bool neg_exp = false;
      for (const char* q = first; q + 1 < last; ++q) {
        if ((*q == 'e' || *q == 'E') && q[1] == '-') neg_exp = true;
      }
      if (!neg_exp) return error("number out of range");
      n.value = 0.0;
    } else if (ec != std::errc() || p != last) {
      return error("invalid number");
    }
    if (integral) {
      std::int64_t i = 0;
      auto [pi, eci] = std::from_chars(first, last, i);
      if (eci == std::errc() && pi == last) n.integer = i;
    }
    out = Value(n);
    return Status::ok();
  }

  Status hex4(std::uint32_t& cp) {
    if (pos_ + 4 > s_.size()) return error("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      cp <<= 4;
      if (c >= '0' && c <= '9') cp |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') cp |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') cp |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return error("invalid hex digit in \\u escape");
    }
    return Status::ok();
  }

  Status string(std::string& out) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= s_.size()) return error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return Status::ok();
      }
      if (c < 0x20) return error("raw control character in a string");
      if (c == '\\') {
        if (++pos_ >= s_.size()) return error("unterminated escape");
        const char e = s_[pos_++];
        switch (e) {
          case '"': out.push_back('"'); break;
          case '\\': out.push_back('\\'); break;
          case '/': out.push_back('/'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'n': out.push_back('\n'); break;
          case 'r': out.push_back('\r'); break;
          case 't': out.push_back('\t'); break;
          case 'u': {
            std::uint32_t cp = 0;
            PARLEY_RETURN_IF_ERROR(hex4(cp));
            if (cp >= 0xDC00 && cp <= 0xDFFF) return error("lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') {
                return error("high surrogate without a low surrogate");
              }
              pos_ += 2;
              std::uint32_t lo = 0;
              PARLEY_RETURN_IF_ERROR(hex4(lo));
              if (lo < 0xDC00 || lo > 0xDFFF) return error("high surrogate without a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default:
            --pos_;
            return error("invalid escape");
        }
        continue;
      }
      const std::size_t n = utf8_length(s_, pos_);
      if (n == 0) return error("invalid UTF-8 in a string");
      out.append(s_.data() + pos_, n);
      pos_ += n;
    }
  }

  std::string_view s_;
  const ParseOptions& opt_;
  std::size_t pos_ = 0;
};

Result<const Value*> member(const Value& object, std::string_view key, Type want) {
  if (!object.is_object()) return invalid_argument("json: not an object when reading \"" + std::string(key) + "\"");
  const Value* v = object.find(key);
  if (v == nullptr) return not_found("json: missing key \"" + std::string(key) + "\"");
  if (v->type() != want) {
    return invalid_argument("json: key \"" + std::string(key) + "\" is a " + std::string(type_name(v->type())) +
                            ", expected a " + std::string(type_name(want)));
  }
  return v;
}

}  // namespace

Result<Value> parse(std::string_view text, const ParseOptions& options) { return Parser(text, options).document(); }

Result<Value> parse_file(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  auto v = parse(buf.str(), options);
  if (!v.ok()) return v.status().with_context(path);
  return v;
}

Result<std::int64_t> get_int(const Value& object, std::string_view key) {
  PARLEY_ASSIGN_OR_RETURN(const Value* v, member(object, key, Type::kNumber));
  if (!v->as_int()) return invalid_argument("json: key \"" + std::string(key) + "\" is not an integer");
  return *v->as_int();
}
Result<double> get_double(const Value& object, std::string_view key) {
  PARLEY_ASSIGN_OR_RETURN(const Value* v, member(object, key, Type::kNumber));
  return v->as_double();
}
Result<std::string> get_string(const Value& object, std::string_view key) {
  PARLEY_ASSIGN_OR_RETURN(const Value* v, member(object, key, Type::kString));
  return v->as_string();
}
Result<bool> get_bool(const Value& object, std::string_view key) {
  PARLEY_ASSIGN_OR_RETURN(const Value* v, member(object, key, Type::kBool));
  return v->as_bool();
}

}  // namespace parley::json
