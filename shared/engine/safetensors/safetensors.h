// Reader (and a small writer) for the safetensors format: named tensors in one memory-mapped file.
// Why: encoder models (BERT, MiniLM, DistilBERT, ...) ship as model.safetensors; engines read
// their weights through this without copying. Depends on shared/common, shared/engine (DType),
// safetensors/json.h.
//
// File format (all integers little-endian):
//   bytes [0, 8)          u64 N = length of the header
//   bytes [8, 8+N)        UTF-8 JSON object: { "<tensor name>": {"dtype": "F32", "shape": [2, 3],
//                         "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v", ...} }
//                         (may be padded with trailing spaces)
//   bytes [8+N, EOF)      the data buffer; a tensor's bytes are buffer[begin, end), row-major.
// Checks (each failure is InvalidArgument/DataLoss naming the file, the tensor and the offset):
// the header fits in the file and is at most 100 MiB; it is a JSON object of objects with exactly
// the keys above; dtype is known; every dimension is >= 0 and the element count times the dtype
// size equals end - begin (no overflow); begin <= end <= buffer size; tensors neither overlap nor
// leave holes, and together cover the whole buffer (as the reference implementation requires);
// __metadata__ maps strings to strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/dtype.h"
#include "shared/engine/file_bytes.h"

namespace parley::safetensors {

/// The dtypes the format defines (names as in the header).
enum class DType : std::uint8_t {
  kBool = 0, kU8, kI8, kF8E5M2, kF8E4M3, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64,
};
std::string_view dtype_name(DType t);          ///< "F32", "BF16", ...
std::optional<DType> parse_dtype(std::string_view name);
std::size_t dtype_size(DType t);               ///< bytes per element
/// The engine dtype with the same layout, if the engine has one (F32, F16, BF16, I8, I32).
std::optional<engine::DType> to_engine_dtype(DType t);

/// One tensor of an open file. `data` points into the file's mapping (not aligned in general:
/// the buffer starts at 8 + header length); valid while the File lives.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  ///< offsets in the data buffer
  const std::byte* data = nullptr;

  std::int64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
  std::string shape_string() const;  ///< "[384, 1536]"
};

/// An open safetensors file (memory-mapped read-only, or bytes held in memory).
///
///   PARLEY_ASSIGN_OR_RETURN(auto file, safetensors::File::open(dir + "/model.safetensors"));
///   const TensorInfo* t = file->find("embeddings.word_embeddings.weight");
///   PARLEY_ASSIGN_OR_RETURN(std::vector<float> w, file->to_f32(*t));
///
/// Immutable after open: any number of threads may read it. The mapping lives as long as the
/// last shared_ptr.
class File {
 public:
  /// Maps and validates `path`. NotFound when it does not exist; InvalidArgument/DataLoss for a
  /// truncated or corrupt file.
  static Result<std::shared_ptr<const File>> open(const std::string& path);
  /// Validates and takes ownership of the bytes of a whole file (tests, fuzzing, downloads).
  static Result<std::shared_ptr<const File>> from_bytes(std::string bytes, std::string name = "<memory>");

  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& name() const { return name_; }
  /// Tensors in header order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view tensor_name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::size_t file_bytes() const { return size_; }

  /// The tensor's values as f32 (from F32, F16, BF16, F64, I8, U8, I16, I32, I64 — integers
  /// converted exactly where representable). InvalidArgument for other dtypes.
  Result<std::vector<float>> to_f32(const TensorInfo& t) const;

 private:
  File() = default;
  Status parse();

  std::string name_;
  engine::FileBytes file_;  // the mapped or owned bytes; bytes_/size_ point into it
  const std::byte* bytes_ = nullptr;
  std::size_t size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

/// A tensor to write: raw little-endian bytes of `shape` elements of `dtype`.
struct TensorData {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::string bytes;
};
/// F32 helper for TensorData.
TensorData f32_tensor(std::string name, std::vector<std::int64_t> shape, std::span<const float> values);

/// Serializes tensors (in the given order) and metadata into a safetensors file image; the
/// header is padded with spaces to a multiple of 8 bytes. InvalidArgument when a tensor's byte
/// count does not match its shape or a name repeats.
Result<std::string> serialize(const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
/// serialize() + write to `path`.
Status write_file(const std::string& path, const std::vector<TensorData>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace parley::safetensors
