// Fine-tuned encoders on disk (see finetune_cache.h).
//
// An entry, <dir>/<key>.ft, little-endian:
//   "PARLEYFT", u32 version, the key (64 hex digits),
//   i32 hidden, labels, tags; the heads' label_w, label_b, tag_w, tag_b (each u64 count + f32s),
//   u32 number of encoder arrays, then per array (EncoderWeights in a fixed order): u8 stored,
//   and when stored u64 count + f32s (an array not stored equals the base's),
//   SHA-256 of every byte before it.
#include "services/nlu/finetune_cache.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <system_error>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include "shared/common/log.h"
#include "shared/common/sha256.h"

namespace parley::nlu {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'P', 'A', 'R', 'L', 'E', 'Y', 'F', 'T'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kKeyBytes = 64;
// Heads larger than this are not a bot's (50k intents x 1024 hidden would be 200 MB).
constexpr std::uint64_t kMaxHeadBytes = std::uint64_t{256} << 20;

// Every float array of an encoder's weights, in the file's order. Read-only, the word table is
// read through word_table() (a base may share another model's: EncoderWeights::shared_word); the
// weights an entry is loaded into get a table of their own.
template <typename W, typename F>
void for_each_array(W& w, F&& f) {
  if constexpr (std::is_const_v<W>) {
    f(w.word_table());
  } else {
    f(w.word);
  }
  f(w.position);
  f(w.token_type);
  f(w.embed_norm.gamma);
  f(w.embed_norm.beta);
  for (auto& l : w.layers) {
    for (auto* lin : {&l.qkv, &l.attn_out, &l.ffn_in, &l.ffn_out}) {
      f(lin->w);
      f(lin->w_scales);
      f(lin->bias);
      f(lin->in_scale);
    }
    f(l.attn_norm.gamma);
    f(l.attn_norm.beta);
    f(l.ffn_norm.gamma);
    f(l.ffn_norm.beta);
  }
  f(w.relative_bias);
}

std::size_t array_count(const encoder::EncoderWeights& w) {
  std::size_t n = 0;
  for_each_array(w, [&](const std::vector<float>&) { ++n; });
  return n;
}

void put_bytes(std::string& out, const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }
template <typename T>
void put(std::string& out, T v) {
  put_bytes(out, &v, sizeof v);
}
void put_floats(std::string& out, const std::vector<float>& v) {
  put<std::uint64_t>(out, v.size());
  put_bytes(out, v.data(), v.size() * sizeof(float));
}
void hash_field(Sha256& h, std::string_view s) {
  const std::uint64_t n = s.size();
  h.update(&n, sizeof n);
  h.update(s);
}
template <typename T>
void hash_value(Sha256& h, T v) {
  h.update(&v, sizeof v);
}

// Reads what put() wrote, each read bounds-checked.
class Reader {
 public:
  Reader(const std::string& data, std::size_t end) : data_(data), end_(end) {}
  bool bytes(void* out, std::size_t n) {
    if (n > end_ - at_) return false;
    std::memcpy(out, data_.data() + at_, n);
    at_ += n;
    return true;
  }
  template <typename T>
  bool get(T& v) {
    return bytes(&v, sizeof v);
  }
  // An array of exactly `expected` floats.
  bool floats(std::vector<float>& v, std::uint64_t expected) {
    std::uint64_t n = 0;
    if (!get(n) || n != expected || n > (end_ - at_) / sizeof(float)) return false;
    v.resize(n);
    return bytes(v.data(), n * sizeof(float));
  }
  bool done() const { return at_ == end_; }

 private:
  const std::string& data_;
  std::size_t end_;
  std::size_t at_ = 0;
};

}  // namespace

Result<std::unique_ptr<FinetuneCache>> FinetuneCache::open(Options options) {
  if (options.dir.empty()) return invalid_argument("fine-tuning cache: no directory given");
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec || !fs::is_directory(options.dir)) {
    return invalid_argument("fine-tuning cache: cannot use directory " + options.dir.string() +
                            (ec ? ": " + ec.message() : std::string(": not a directory")));
  }
  return std::unique_ptr<FinetuneCache>(new FinetuneCache(std::move(options)));
}

std::string FinetuneCache::base_id(const encoder::EncoderModel& base) {
  Sha256 h;
  const auto& c = base.config();
  for (std::int64_t v : {static_cast<std::int64_t>(c.family), c.vocab_size, c.hidden, c.layers, c.heads, c.intermediate,
                         c.max_positions, c.type_vocab, c.position_offset, c.relative_buckets, c.relative_max_distance})
    hash_value(h, v);
  hash_value(h, c.layer_norm_eps);
  hash_value(h, static_cast<int>(c.activation));
  for_each_array(base.weights(), [&](const std::vector<float>& a) {
    hash_value<std::uint64_t>(h, a.size());
    h.update(a.data(), a.size() * sizeof(float));
  });
  return h.finish_hex();
}

std::string FinetuneCache::key(const v1::TrainRequest& request, v1::FineTuneMode mode, const FinetuneOptions& o,
                               std::string_view base_id) {
  Sha256 h;
  hash_field(h, "parley-finetune-cache");
  hash_value(h, kVersion);
  hash_field(h, base_id);
  hash_value(h, static_cast<int>(mode));
  const auto& j = o.joint;
  const auto& e = j.encoder;
  hash_value(h, j.epochs);
  hash_value(h, o.example_passes);
  hash_value(h, o.min_epochs);
  hash_value(h, o.max_epochs);
  hash_value(h, j.max_steps);
  hash_value(h, j.batch_size);
  for (float v : {j.lr, j.head_lr, j.weight_decay, j.warmup, j.beta2, j.label_smoothing, j.tag_loss_weight, e.lora_alpha,
                  e.dropout})
    hash_value(h, v);
  hash_value(h, j.seed);
  for (int v : {e.full_layers, e.lora_layers, e.lora_rank}) hash_value(h, v);
  for (bool v : {e.train_embeddings, e.train_word_embeddings, e.sparse24, e.bf16}) hash_value(h, v);
  hash_value(h, e.seed);
  hash_value<std::uint64_t>(h, static_cast<std::uint64_t>(request.intents_size()));
  for (const auto& intent : request.intents()) {
    hash_field(h, intent.name());
    hash_value<std::uint64_t>(h, static_cast<std::uint64_t>(intent.examples_size()));
    for (const auto& ex : intent.examples()) {
      hash_field(h, ex.text());
      hash_value<std::uint64_t>(h, static_cast<std::uint64_t>(ex.slots_size()));
      for (const auto& s : ex.slots()) {
        hash_field(h, s.slot());
        hash_value(h, s.start());
        hash_value(h, s.end());
      }
    }
  }
  return h.finish_hex();
}

fs::path FinetuneCache::path(const std::string& key) const { return options_.dir / (key + ".ft"); }

Result<std::optional<FinetunedWeights>> FinetuneCache::load(const std::string& key, const encoder::EncoderModel& base,
                                                            int want_labels, int want_tags) const {
  if (base.precision() != encoder::Precision::kFp32) return failed_precondition("fine-tuning cache: the base encoder is not FP32");
  const fs::path p = path(key);
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::optional<FinetunedWeights>{};
  const encoder::EncoderWeights& bw = base.weights();
  std::uint64_t most = kMaxHeadBytes + 4096;
  for_each_array(bw, [&](const std::vector<float>& a) { most += 9 + a.size() * sizeof(float); });
  const std::uint64_t size = fs::file_size(p, ec);
  auto damaged = [&](const std::string& why) -> Status {
    std::error_code rm;
    fs::remove(p, rm);
    return data_loss("fine-tuning cache entry " + p.string() + ": " + why + " (removed)");
  };
  if (ec) return damaged("cannot read its size: " + ec.message());
  if (size > most) return damaged(std::to_string(size) + " bytes, more than an entry of this encoder can hold");
  if (size < sizeof kMagic + 4 + kKeyBytes + 32) return damaged("truncated (" + std::to_string(size) + " bytes)");
  std::string data(size, '\0');
  {
    std::ifstream in(p, std::ios::binary);
    if (!in.read(data.data(), static_cast<std::streamsize>(size))) return damaged("cannot be read");
  }
  const std::size_t body = data.size() - 32;
  Sha256 h;
  h.update(data.data(), body);
  const auto digest = h.finish();
  if (std::memcmp(digest.data(), data.data() + body, 32) != 0) return damaged("checksum mismatch");
  Reader r(data, body);
  char magic[sizeof kMagic];
  std::uint32_t version = 0;
  std::string stored_key(kKeyBytes, '\0');
  if (!r.bytes(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0) return damaged("not an entry");
  if (!r.get(version) || version != kVersion) return damaged("format version " + std::to_string(version));
  if (!r.bytes(stored_key.data(), kKeyBytes) || stored_key != key) return damaged("written for another key");
  FinetunedWeights out;
  std::int32_t hidden = 0, labels = 0, tags = 0;
  if (!r.get(hidden) || !r.get(labels) || !r.get(tags)) return damaged("truncated heads");
  if (hidden != base.config().hidden || labels < 1 || tags < 1 ||
      (static_cast<std::uint64_t>(labels) + static_cast<std::uint64_t>(tags)) * static_cast<std::uint64_t>(hidden) * sizeof(float) > kMaxHeadBytes)
    return damaged("heads of " + std::to_string(labels) + " intents, " + std::to_string(tags) + " tags, hidden " +
                   std::to_string(hidden) + " do not fit the encoder");
  if (labels != want_labels || tags != want_tags)
    return damaged("heads of " + std::to_string(labels) + " intents and " + std::to_string(tags) + " tags, the bot has " +
                   std::to_string(want_labels) + " and " + std::to_string(want_tags));
  out.heads.hidden = hidden;
  out.heads.labels = labels;
  out.heads.tags = tags;
  const auto hd = static_cast<std::uint64_t>(hidden);
  if (!r.floats(out.heads.label_w, static_cast<std::uint64_t>(labels) * hd) ||
      !r.floats(out.heads.label_b, static_cast<std::uint64_t>(labels)) ||
      !r.floats(out.heads.tag_w, static_cast<std::uint64_t>(tags) * hd) ||
      !r.floats(out.heads.tag_b, static_cast<std::uint64_t>(tags)))
    return damaged("heads' arrays do not match their shapes");
  std::uint32_t arrays = 0;
  if (!r.get(arrays) || arrays != array_count(bw)) return damaged("holds " + std::to_string(arrays) + " arrays");
  out.weights = bw;
  if (out.weights.shared_word) {  // a table of its own, which the entry may replace (serve_finetuned shares it again)
    out.weights.word = *out.weights.shared_word;
    out.weights.shared_word.reset();
  }
  bool ok = true;
  std::size_t index = 0, bad = 0;
  for_each_array(out.weights, [&](std::vector<float>& a) {
    std::uint8_t stored = 0;
    if (ok && !r.get(stored)) ok = false;
    if (ok && stored != 0 && !r.floats(a, a.size())) ok = false;
    if (!ok && bad == 0) bad = index + 1;
    ++index;
  });
  if (!ok) return damaged("encoder array " + std::to_string(bad - 1) + " does not match the base encoder's shape");
  if (!r.done()) return damaged("trailing bytes");
  fs::last_write_time(p, fs::file_time_type::clock::now(), ec);  // last use, for trim()
  return std::optional<FinetunedWeights>(std::move(out));
}

Status FinetuneCache::store(const std::string& key, const FinetunedWeights& tuned, const encoder::EncoderModel& base) const {
  if (base.precision() != encoder::Precision::kFp32) return failed_precondition("fine-tuning cache: the base encoder is not FP32");
  const encoder::EncoderWeights& bw = base.weights();
  if (array_count(tuned.weights) != array_count(bw) || key.size() != kKeyBytes)
    return invalid_argument("fine-tuning cache: the weights do not match the base encoder");
  std::vector<const std::vector<float>*> base_arrays;
  for_each_array(bw, [&](const std::vector<float>& a) { base_arrays.push_back(&a); });
  std::string data;
  put_bytes(data, kMagic, sizeof kMagic);
  put(data, kVersion);
  put_bytes(data, key.data(), kKeyBytes);
  put<std::int32_t>(data, tuned.heads.hidden);
  put<std::int32_t>(data, tuned.heads.labels);
  put<std::int32_t>(data, tuned.heads.tags);
  put_floats(data, tuned.heads.label_w);
  put_floats(data, tuned.heads.label_b);
  put_floats(data, tuned.heads.tag_w);
  put_floats(data, tuned.heads.tag_b);
  put<std::uint32_t>(data, static_cast<std::uint32_t>(base_arrays.size()));
  std::size_t i = 0;
  Status shape;
  for_each_array(tuned.weights, [&](const std::vector<float>& a) {
    const std::vector<float>& b = *base_arrays[i++];
    if (a.size() != b.size() && shape.is_ok()) shape = invalid_argument("fine-tuning cache: an array differs from the base's in size");
    const bool same = a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    put<std::uint8_t>(data, same ? 0 : 1);
    if (!same) put_floats(data, a);
  });
  PARLEY_RETURN_IF_ERROR(shape);
  Sha256 h;
  h.update(data.data(), data.size());
  const auto digest = h.finish();
  put_bytes(data, digest.data(), digest.size());
  // Written beside the entry and renamed over it: a reader sees the whole entry or none.
  static std::atomic<std::uint64_t> counter{0};
  const fs::path final_path = path(key);
  const fs::path tmp = options_.dir / (key + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::error_code rm;
      fs::remove(tmp, rm);
      return unavailable("fine-tuning cache: cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return unavailable("fine-tuning cache: cannot rename into " + final_path.string());
  }
  trim(final_path);
  return Status::ok();
}

void FinetuneCache::trim(const fs::path& keep) const {
  struct Entry {
    fs::path path;
    fs::file_time_type used;
    std::uint64_t bytes;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(options_.dir, ec)) {
    if (!d.is_regular_file(ec) || d.path().extension() != ".ft") continue;
    Entry e{d.path(), d.last_write_time(ec), d.file_size(ec)};
    if (ec) continue;
    total += e.bytes;
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
  for (const Entry& e : entries) {
    if (total <= options_.max_bytes) break;
    if (e.path == keep) continue;
    if (fs::remove(e.path, ec)) {
      total -= e.bytes;
      PARLEY_LOG(kInfo).kv("entry", e.path.string()) << "fine-tuning cache: removed the least recently used entry";
    }
  }
}

}  // namespace parley::nlu
