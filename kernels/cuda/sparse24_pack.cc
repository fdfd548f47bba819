// 2:4 packing into the mma.sp fragment order (host), and the inverse.
// Why: see sparse24_pack.h. Every index comes from sparse24_layout.h's fragment maps.
// Depends on sparse24_pack.h.
#include "kernels/cuda/sparse24_pack.h"

#include <cstring>
#include <string>

namespace parley::kernels::cuda {
namespace {

// Metadata for an all-zero padding group: columns 0 and 1 (valid: distinct and increasing).
constexpr std::uint32_t kPadNibble = 0x4;

bool valid_nibble(std::uint32_t nib) { return (nib & 3u) < ((nib >> 2) & 3u); }

}  // namespace

Status pack_sparse24_host(const Sparse24CpuView& src, const sp24::MetaMap& map, std::vector<std::uint8_t>* out) {
  if (!sp24::covers_tile_once(map)) return invalid_argument("sparse24 pack: the metadata map does not cover the tile once");
  if (src.n < 0 || src.k < 0) return invalid_argument("sparse24 pack: negative shape");
  if (src.k % sp24::kTileK != 0) {
    return invalid_argument("sparse24 pack: K = " + std::to_string(src.k) +
                            " must be a multiple of 64 for the CUDA sparse kernel");
  }
  const std::int64_t half = src.k / 2;
  const std::int64_t meta_row_bytes = (src.k + 7) / 8;
  if (src.n > 0 && (src.values == nullptr || src.meta == nullptr)) {
    return invalid_argument("sparse24 pack: null source");
  }
  if (src.values_ld < half || src.meta_ld < meta_row_bytes) {
    return invalid_argument("sparse24 pack: source row strides shorter than a row");
  }
  const sp24::PackedDims d = sp24::packed_dims(src.n, src.k);
  out->assign(static_cast<std::size_t>(d.total_bytes), 0);
  auto* values = reinterpret_cast<std::int8_t*>(out->data());
  for (std::int64_t r = 0; r < src.n; ++r) {
    std::memcpy(values + r * half, src.values + r * src.values_ld, static_cast<std::size_t>(half));
  }
  auto nibble_of = [&](std::int64_t row, std::int64_t group) -> std::uint32_t {
    if (row >= src.n) return kPadNibble;
    const std::uint8_t byte = src.meta[row * src.meta_ld + group / 2];
    return (group % 2 == 0) ? (byte & 0xfu) : (byte >> 4);
  };
  // Validate every real group first, so a bad source names its row and group.
  for (std::int64_t r = 0; r < src.n; ++r) {
    for (std::int64_t g = 0; g < src.k / 4; ++g) {
      if (!valid_nibble(nibble_of(r, g))) {
        return invalid_argument("sparse24 pack: row " + std::to_string(r) + " group " +
                                std::to_string(g) +
                                " metadata does not name two increasing columns");
      }
    }
  }
  std::uint8_t* meta_bytes = out->data() + d.meta_offset;
  const std::int64_t ktiles = src.k / sp24::kTileK;
  for (std::int64_t nt = 0; nt < d.n_pad / sp24::kTileRows; ++nt) {
    for (std::int64_t kt = 0; kt < ktiles; ++kt) {
      for (int lane = 0; lane < 32; ++lane) {
        std::uint32_t word = 0;
        for (int j = 0; j < 8; ++j) {
          const std::int64_t row = nt * sp24::kTileRows + map.row[lane][j];
          const std::int64_t group = kt * (sp24::kTileK / 4) + map.group[lane][j];
          word |= nibble_of(row, group) << (4 * j);
        }
        const std::int64_t idx = (nt * ktiles + kt) * 32 + lane;
        std::memcpy(meta_bytes + 4 * idx, &word, 4);
      }
    }
  }
  return Status::ok();
}

Status unpack_sparse24_host(const std::uint8_t* packed, std::int64_t n, std::int64_t k, const sp24::MetaMap& map,
                            std::vector<std::int8_t>* dense) {
  if (n < 0 || k < 0 || k % sp24::kTileK != 0) return invalid_argument("sparse24 unpack: bad shape");
  const sp24::PackedDims d = sp24::packed_dims(n, k);
  dense->assign(static_cast<std::size_t>(n * k), 0);
  const auto* values = reinterpret_cast<const std::int8_t*>(packed);
  const std::uint8_t* meta_bytes = packed + d.meta_offset;
  const std::int64_t ktiles = k / sp24::kTileK;
  for (std::int64_t nt = 0; nt < d.n_pad / sp24::kTileRows; ++nt) {
    for (std::int64_t kt = 0; kt < ktiles; ++kt) {
      for (int lane = 0; lane < 32; ++lane) {
        std::uint32_t word = 0;
        std::memcpy(&word, meta_bytes + 4 * ((nt * ktiles + kt) * 32 + lane), 4);
        for (int j = 0; j < 8; ++j) {
          const std::int64_t row = nt * sp24::kTileRows + map.row[lane][j];
          if (row >= n) continue;
          const std::int64_t group = kt * (sp24::kTileK / 4) + map.group[lane][j];
          const std::uint32_t nib = (word >> (4 * j)) & 0xfu;
          const std::int8_t v0 = values[row * (k / 2) + 2 * group];
          const std::int8_t v1 = values[row * (k / 2) + 2 * group + 1];
          (*dense)[static_cast<std::size_t>(row * k + 4 * group + (nib & 3u))] = v0;
          (*dense)[static_cast<std::size_t>(row * k + 4 * group + ((nib >> 2) & 3u))] = v1;
        }
      }
    }
  }
  return Status::ok();
}

}  // namespace parley::kernels::cuda
