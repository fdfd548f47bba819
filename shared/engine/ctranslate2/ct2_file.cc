// CTranslate2 model.bin reader/writer (format and checks: ct2_file.h).
// Why: every length in a model file is checked against the bytes present before a variable is
// touched, so a bad file is a Status naming the variable and offset. Depends on ct2_file.h, half.h.
#include "shared/engine/ctranslate2/ct2_file.h"


#include <cerrno>
#include <cmath>
#include <cstring>

#include "shared/engine/half.h"

namespace parley::engine::ct2 {

namespace {

constexpr std::uint32_t kMaxVariables = 1u << 20;
constexpr int kMaxRank = 8;

// Bounds-checked little-endian reader over the file image.
class Reader {
 public:
  Reader(const std::byte* data, std::size_t size, const std::string& file) : p_(data), size_(size), file_(file) {}
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return size_ - pos_; }

  Status need(std::size_t n, std::string_view what) const {
    if (n > left()) {
      return data_loss("ctranslate2: " + file_ + ": truncated: " + std::string(what) + " needs " + std::to_string(n) +
                       " bytes at offset " + std::to_string(pos_) + ", " + std::to_string(left()) + " left");
    }
    return Status::ok();
  }
  template <typename T>
  Status read(T& out, std::string_view what) {
    PARLEY_RETURN_IF_ERROR(need(sizeof(T), what));
    std::memcpy(&out, p_ + pos_, sizeof(T));  // little-endian host
    pos_ += sizeof(T);
    return Status::ok();
  }
  Status read_string(std::string& out, std::string_view what) {
    std::uint16_t len = 0;
    PARLEY_RETURN_IF_ERROR(read(len, what));
    PARLEY_RETURN_IF_ERROR(need(len, what));
    if (len == 0 || static_cast<char>(p_[pos_ + len - 1]) != '\0') {
      return invalid_argument("ctranslate2: " + file_ + ": " + std::string(what) + " at offset " + std::to_string(pos_ - 2) +
                              " is not a NUL-terminated string");
    }
    out.assign(reinterpret_cast<const char*>(p_ + pos_), len - 1);
    if (out.find('\0') != std::string::npos) {
      return invalid_argument("ctranslate2: " + file_ + ": " + std::string(what) + " at offset " + std::to_string(pos_ - 2) +
                              " contains a NUL byte");
    }
    pos_ += len;
    return Status::ok();
  }
  const std::byte* here() const { return p_ + pos_; }
  void skip(std::size_t n) { pos_ += n; }

 private:
  const std::byte* p_;
  std::size_t size_;
  std::size_t pos_ = 0;
  const std::string& file_;
};

}  // namespace

std::string_view ct2_type_name(Ct2Type t) {
  switch (t) {
    case Ct2Type::kF32: return "float32";
    case Ct2Type::kI8: return "int8";
    case Ct2Type::kI16: return "int16";
    case Ct2Type::kI32: return "int32";
    case Ct2Type::kF16: return "float16";
    case Ct2Type::kBF16: return "bfloat16";
  }
  return "?";
}

std::size_t ct2_type_size(Ct2Type t) {
  switch (t) {
    case Ct2Type::kF32: return 4;
    case Ct2Type::kI8: return 1;
    case Ct2Type::kI16: return 2;
    case Ct2Type::kI32: return 4;
    case Ct2Type::kF16: return 2;
    case Ct2Type::kBF16: return 2;
  }
  return 0;
}

std::optional<DType> to_engine_dtype(Ct2Type t) {
  switch (t) {
    case Ct2Type::kF32: return DType::kF32;
    case Ct2Type::kI8: return DType::kI8;
    case Ct2Type::kI32: return DType::kI32;
    case Ct2Type::kF16: return DType::kF16;
    case Ct2Type::kBF16: return DType::kBF16;
    case Ct2Type::kI16: return std::nullopt;
  }
  return std::nullopt;
}

std::int64_t Variable::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string Variable::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

File::~File() = default;

Result<std::shared_ptr<const File>> File::open(const std::string& path) {
  PARLEY_ASSIGN_OR_RETURN(engine::FileBytes bytes, engine::FileBytes::map(path, "ctranslate2"));
  std::shared_ptr<File> f(new File());
  f->name_ = path;
  f->file_ = std::move(bytes);
  f->bytes_ = f->file_.data();
  f->size_ = f->file_.size();
  PARLEY_RETURN_IF_ERROR(f->parse());
  return std::shared_ptr<const File>(std::move(f));
}

Result<std::shared_ptr<const File>> File::from_bytes(std::string bytes, std::string name) {
  std::shared_ptr<File> f(new File());
  f->name_ = std::move(name);
  f->file_ = engine::FileBytes::own(std::move(bytes));
  f->bytes_ = f->file_.data();
  f->size_ = f->file_.size();
  PARLEY_RETURN_IF_ERROR(f->parse());
  return std::shared_ptr<const File>(std::move(f));
}

Status File::parse() {
  Reader r(bytes_, size_, name_);
  PARLEY_RETURN_IF_ERROR(r.read(version_, "binary version"));
  if (version_ < 4 || version_ > 6) {
    return invalid_argument("ctranslate2: " + name_ + ": binary version " + std::to_string(version_) +
                            " is not supported (4-6); not a CTranslate2 model.bin?");
  }
  PARLEY_RETURN_IF_ERROR(r.read_string(spec_, "spec name"));
  PARLEY_RETURN_IF_ERROR(r.read(revision_, "spec revision"));
  std::uint32_t count = 0;
  PARLEY_RETURN_IF_ERROR(r.read(count, "variable count"));
  if (count > kMaxVariables) {
    return invalid_argument("ctranslate2: " + name_ + ": " + std::to_string(count) + " variables (limit " +
                            std::to_string(kMaxVariables) + ")");
  }
  vars_.reserve(std::min<std::uint32_t>(count, 4096));
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t start = r.pos();
    Variable v;
    PARLEY_RETURN_IF_ERROR(r.read_string(v.name, "variable name"));
    auto where = [&] { return "ctranslate2: " + name_ + ": variable '" + v.name + "' (offset " + std::to_string(start) + "): "; };
    std::uint8_t rank = 0;
    PARLEY_RETURN_IF_ERROR(r.read(rank, "rank"));
    if (rank > kMaxRank) return invalid_argument(where() + "rank " + std::to_string(rank) + " > " + std::to_string(kMaxRank));
    // Every partial product must fit int64, not only the total: a later zero dimension would
    // otherwise hide an overflow that Variable::numel() (signed, same order) then commits.
    std::int64_t numel = 1;
    bool overflow = false;
    for (int d = 0; d < rank; ++d) {
      std::uint32_t dim = 0;
      PARLEY_RETURN_IF_ERROR(r.read(dim, "dimension"));
      v.shape.push_back(dim);
      overflow |= __builtin_mul_overflow(numel, static_cast<std::int64_t>(dim), &numel);
    }
    std::uint8_t type = 0;
    PARLEY_RETURN_IF_ERROR(r.read(type, "dtype"));
    if (type > static_cast<std::uint8_t>(Ct2Type::kBF16)) return invalid_argument(where() + "unknown dtype " + std::to_string(type));
    v.type = static_cast<Ct2Type>(type);
    std::uint32_t nbytes = 0;
    PARLEY_RETURN_IF_ERROR(r.read(nbytes, "byte count"));
    std::int64_t bytes_needed = 0;
    overflow |= __builtin_mul_overflow(numel, static_cast<std::int64_t>(ct2_type_size(v.type)), &bytes_needed);
    if (overflow || bytes_needed != static_cast<std::int64_t>(nbytes)) {
      return invalid_argument(where() + "shape " + v.shape_string() + " of " + std::string(ct2_type_name(v.type)) +
                              " does not match its " + std::to_string(nbytes) + " data bytes");
    }
    PARLEY_RETURN_IF_ERROR(r.need(nbytes, "data of '" + v.name + "'"));
    v.data = r.here();
    v.offset = r.pos();
    v.nbytes = nbytes;
    r.skip(nbytes);
    if (!index_.emplace(v.name, vars_.size()).second) return invalid_argument(where() + "name repeats");
    vars_.push_back(std::move(v));
  }
  std::uint32_t naliases = 0;
  PARLEY_RETURN_IF_ERROR(r.read(naliases, "alias count"));
  if (naliases > kMaxVariables) return invalid_argument("ctranslate2: " + name_ + ": " + std::to_string(naliases) + " aliases");
  for (std::uint32_t i = 0; i < naliases; ++i) {
    std::string alias, target;
    const std::size_t start = r.pos();
    PARLEY_RETURN_IF_ERROR(r.read_string(alias, "alias name"));
    PARLEY_RETURN_IF_ERROR(r.read_string(target, "alias target"));
    if (index_.find(target) == index_.end()) {
      return invalid_argument("ctranslate2: " + name_ + ": alias '" + alias + "' (offset " + std::to_string(start) +
                              ") points at missing variable '" + target + "'");
    }
    if (index_.count(alias) != 0 || !aliases_.emplace(alias, target).second) {
      return invalid_argument("ctranslate2: " + name_ + ": alias '" + alias + "' repeats a name");
    }
  }
  if (r.left() != 0) {
    return invalid_argument("ctranslate2: " + name_ + ": " + std::to_string(r.left()) + " unexpected bytes after the aliases at offset " +
                            std::to_string(r.pos()));
  }
  return Status::ok();
}

const Variable* File::find(std::string_view name) const {
  auto it = index_.find(name);
  if (it != index_.end()) return &vars_[it->second];
  auto a = aliases_.find(name);
  if (a == aliases_.end()) return nullptr;
  it = index_.find(a->second);
  return it == index_.end() ? nullptr : &vars_[it->second];
}

Result<std::vector<float>> File::to_f32(const Variable& v) const {
  const auto n = static_cast<std::size_t>(v.numel());
  std::vector<float> out(n);
  const std::byte* p = v.data;
  switch (v.type) {
    case Ct2Type::kF32:
      if (n) std::memcpy(out.data(), p, n * 4);
      break;
    case Ct2Type::kF16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      break;
    case Ct2Type::kBF16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      break;
    case Ct2Type::kI8:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<std::int8_t>(p[i]));
      break;
    case Ct2Type::kI16:
      for (std::size_t i = 0; i < n; ++i) {
        std::int16_t x;
        std::memcpy(&x, p + 2 * i, 2);
        out[i] = static_cast<float>(x);
      }
      break;
    case Ct2Type::kI32:
      for (std::size_t i = 0; i < n; ++i) {
        std::int32_t x;
        std::memcpy(&x, p + 4 * i, 4);
        out[i] = static_cast<float>(x);
      }
      break;
  }
  return out;
}

Result<std::int64_t> File::scalar_int(std::string_view name) const {
  const Variable* v = find(name);
  if (v == nullptr) return not_found("ctranslate2: " + name_ + ": no variable '" + std::string(name) + "'");
  if (v->numel() != 1) {
    return invalid_argument("ctranslate2: " + name_ + ": '" + std::string(name) + "' has shape " + v->shape_string() +
                            ", expected one value");
  }
  const std::byte* p = v->data;
  switch (v->type) {
    case Ct2Type::kI8: return static_cast<std::int64_t>(static_cast<std::int8_t>(p[0]));
    case Ct2Type::kI16: {
      std::int16_t x;
      std::memcpy(&x, p, 2);
      return static_cast<std::int64_t>(x);
    }
    case Ct2Type::kI32: {
      std::int32_t x;
      std::memcpy(&x, p, 4);
      return static_cast<std::int64_t>(x);
    }
    default: {
      PARLEY_ASSIGN_OR_RETURN(auto f, to_f32(*v));
      // A float scalar outside int64 (or NaN) would be undefined behaviour to convert: a corrupt file.
      const float x = f[0];
      if (!(x >= -9.2e18f && x <= 9.2e18f) || x != std::trunc(x)) {
        return invalid_argument("ctranslate2: " + name_ + ": '" + std::string(name) + "' holds " + std::to_string(x) +
                                ", expected an integer");
      }
      return static_cast<std::int64_t>(x);
    }
  }
}

VariableData f32_variable(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  VariableData v{std::move(name), Ct2Type::kF32, std::move(shape), {}};
  v.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  return v;
}

VariableData f16_variable(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  VariableData v{std::move(name), Ct2Type::kF16, std::move(shape), {}};
  v.bytes.resize(values.size() * 2);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint16_t h = f32_to_f16(values[i]);
    std::memcpy(v.bytes.data() + 2 * i, &h, 2);
  }
  return v;
}

VariableData scalar_variable(std::string name, Ct2Type type, std::int64_t value) {
  VariableData v{std::move(name), type, {}, {}};
  v.bytes.resize(ct2_type_size(type));
  switch (type) {
    case Ct2Type::kI8: v.bytes[0] = static_cast<char>(value); break;
    case Ct2Type::kI16: {
      auto x = static_cast<std::int16_t>(value);
      std::memcpy(v.bytes.data(), &x, 2);
      break;
    }
    case Ct2Type::kI32: {
      auto x = static_cast<std::int32_t>(value);
      std::memcpy(v.bytes.data(), &x, 4);
      break;
    }
    default: {
      auto x = static_cast<float>(value);
      v.type = Ct2Type::kF32;
      v.bytes.resize(4);
      std::memcpy(v.bytes.data(), &x, 4);
    }
  }
  return v;
}

Result<std::string> serialize(const std::string& spec, std::uint32_t revision, const std::vector<VariableData>& vars,
                              const std::vector<std::pair<std::string, std::string>>& aliases) {
  std::string out;
  auto put = [&out](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); };
  auto put32 = [&](std::uint32_t v) { put(&v, 4); };
  auto put_string = [&](const std::string& s) {
    const auto n = static_cast<std::uint16_t>(s.size() + 1);
    put(&n, 2);
    out += s;
    out += '\0';
  };
  put32(6);
  put_string(spec);
  put32(revision);
  put32(static_cast<std::uint32_t>(vars.size()));
  for (const auto& v : vars) {
    std::uint64_t numel = 1;
    for (auto d : v.shape) numel *= static_cast<std::uint64_t>(d);
    if (numel * ct2_type_size(v.type) != v.bytes.size()) {
      return invalid_argument("ct2 serialize: '" + v.name + "' has " + std::to_string(v.bytes.size()) + " bytes for " +
                              std::to_string(numel) + " elements");
    }
    put_string(v.name);
    out += static_cast<char>(v.shape.size());
    for (auto d : v.shape) put32(static_cast<std::uint32_t>(d));
    out += static_cast<char>(v.type);
    put32(static_cast<std::uint32_t>(v.bytes.size()));
    out += v.bytes;
  }
  put32(static_cast<std::uint32_t>(aliases.size()));
  for (const auto& [a, t] : aliases) {
    put_string(a);
    put_string(t);
  }
  return out;
}

}  // namespace parley::engine::ct2
