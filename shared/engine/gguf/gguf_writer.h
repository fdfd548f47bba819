// GgufWriter: builds a GGUF v3 file (metadata, tensor infos, aligned tensor data) in memory or on
// disk. Why: tests write tiny models and corrupt files with it; `parley model quantize/prune`
// write converted models. Depends on gguf.h (Value, GgmlType).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/gguf/gguf.h"

namespace parley::engine::gguf {

/// A metadata value the writer owns (strings and arrays copied in).
struct OwnedValue {
  ValueType type = ValueType::kU32;
  std::uint64_t u = 0;
  std::int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string s;
  ValueType elem_type = ValueType::kU32;
  std::vector<OwnedValue> items;

  static OwnedValue from(const Value& v);  ///< deep copy of a reader value
};

/// Collects metadata and tensors, then serializes. Keys keep insertion order; setting a key again
/// replaces its value in place. Tensor data is copied in. Not thread-safe.
///
///   GgufWriter w;
///   w.set_string("general.architecture", "llama");
///   w.set_u32("llama.block_count", 2);
///   w.add_tensor("token_embd.weight", {dim, vocab}, GgmlType::kF32, as_bytes(std::span(embd)));
///   PARLEY_RETURN_IF_ERROR(w.write_file(path));
class GgufWriter {
 public:
  void set(std::string key, OwnedValue v);
  void set_u8(std::string key, std::uint8_t v);
  void set_u32(std::string key, std::uint32_t v);
  void set_i32(std::string key, std::int32_t v);
  void set_u64(std::string key, std::uint64_t v);
  void set_f32(std::string key, float v);
  void set_bool(std::string key, bool v);
  void set_string(std::string key, std::string v);
  void set_string_array(std::string key, const std::vector<std::string>& v);
  void set_f32_array(std::string key, const std::vector<float>& v);
  void set_i32_array(std::string key, const std::vector<std::int32_t>& v);
  /// Removes a key if present.
  void erase(std::string_view key);
  /// Power of two; also written as general.alignment when not 32.
  void set_alignment(std::uint32_t alignment);

  /// dims fastest-varying first (GGUF order): a row-major [rows][cols] matrix is {cols, rows}.
  /// InvalidArgument when the byte count does not match dims and type, or the name repeats.
  Status add_tensor(std::string name, std::vector<std::int64_t> dims, GgmlType type,
                    std::span<const std::byte> data);
  /// Convenience for f32 data.
  Status add_tensor_f32(std::string name, std::vector<std::int64_t> dims, std::span<const float> data);

  /// The whole file.
  std::vector<std::uint8_t> serialize() const;
  /// Writes serialize() to `path` (Unavailable on I/O errors).
  Status write_file(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<std::int64_t> dims;
    GgmlType type;
    std::vector<std::byte> data;
  };
  std::vector<std::pair<std::string, OwnedValue>> kv_;
  std::vector<Tensor> tensors_;
  std::uint32_t alignment_ = 32;
};

}  // namespace parley::engine::gguf
