#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "cpu/threading.h"

namespace pt::model {
namespace {

// The storage of the last cache freed, kept for the next one. Each generate() starts a cache
// about as large as the one before, and fresh memory costs a page fault and a zero-fill by the
// kernel for every page written: for GPT-2 small and a prompt of 512 tokens, 38 MB, and the
// prompt ran 1.015-1.028x faster with the storage reused (paired, 2 threads). One block at most
// is kept, and only for a cache of at least half its size; a cache it does not fit frees it.
class SpareStorage {
 public:
  static SpareStorage& instance() {
    // Never destroyed: a cache may still be freed while the process exits.
    static SpareStorage* spare = new SpareStorage;
    return *spare;
  }

  // A block of at least `floats`, and its size in floats.
  std::pair<AlignedPtr<float>, size_t> take(size_t floats) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (block_ && floats <= floats_ && floats_ / 2 <= floats) return {std::move(block_), floats_};
    block_.reset();  // does not fit: give it back before the new block is allocated
    return {aligned_array<float>(floats), floats};
  }

  size_t release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t bytes = block_ ? floats_ * sizeof(float) : 0;
    block_.reset();
    floats_ = 0;
    return bytes;
  }

  void keep(AlignedPtr<float> block, size_t floats) {
    std::lock_guard<std::mutex> lock(mutex_);
    block_ = std::move(block);
    floats_ = floats;
  }

 private:
  std::mutex mutex_;
  AlignedPtr<float> block_;
  size_t floats_ = 0;
};

}  // namespace

size_t release_spare_kv_storage() { return SpareStorage::instance().release(); }

KVCache::KVCache(int64_t layers, int64_t rows, int64_t kv_heads, int64_t max_length,
                 int64_t head_dim)
    : layers_(layers), rows_(rows), kv_heads_(kv_heads), max_length_(max_length), head_dim_(head_dim) {
  if (layers < 1 || rows < 1 || kv_heads < 1 || max_length < 1 || head_dim < 1)
    throw std::invalid_argument("KVCache: layers, rows, kv_heads, max_length and head_dim must be positive");
  const double floats = 2.0 * layers * rows * kv_heads * max_length * head_dim;
  if (floats * sizeof(float) > 1e12)
    throw std::invalid_argument("KVCache: " + std::to_string(floats * 4 / 1e9) + " GB is too large");
  std::tie(storage_, capacity_) = SpareStorage::instance().take(static_cast<size_t>(floats));
  written_.assign(static_cast<size_t>(layers), 0);
}

KVCache::~KVCache() {
  if (storage_) SpareStorage::instance().keep(std::move(storage_), capacity_);
}

float* KVCache::data(int64_t layer, bool values) const {
  return storage_.get() + (2 * layer + (values ? 1 : 0)) * rows_ * row_floats();
}

void KVCache::write(int64_t layer, const ops::ConstView& k, const ops::ConstView& v, int64_t start) {
  if (layer < 0 || layer >= layers_)
    throw std::invalid_argument("layer: " + std::to_string(layer) + " is outside [0, " +
                                std::to_string(layers_) + ")");
  ops::expect_rank("k", k, 4);
  const int64_t n = k.dim(2);
  ops::expect_shape("k", k, {rows_, kv_heads_, n, head_dim_});
  ops::expect_shape("v", v, k.shape);
  // n > max_length_ - start, not start + n > max_length_: a start near 2^63 must not wrap.
  if (start < 0 || n > max_length_ - start)
    throw std::invalid_argument("start: " + std::to_string(start) + " plus " +
                                std::to_string(n) + " new positions exceeds the cache's "
                                "max_length " + std::to_string(max_length_));
  // Attention reads every position before the ones written: a gap would be read unwritten
  // (storage is not cleared, and may hold an earlier cache's keys).
  if (start > written_[layer])
    throw std::invalid_argument("start: writing from position " + std::to_string(start) +
                                " would leave positions [" + std::to_string(written_[layer]) +
                                ", " + std::to_string(start) + ") of layer " +
                                std::to_string(layer) + " unwritten");
  for (const auto* t : {&k, &v})
    if (head_dim_ > 1 && t->stride(3) != 1)
      throw std::invalid_argument("k, v: the last axis must be contiguous");
  // One (k or v, row, head) run of n positions per task: a prompt's write is megabytes (GPT-2,
  // 512 tokens: 3 MiB a layer), worth both cores; a decode step's (n = 1) stays on one.
  const int64_t runs = 2 * rows_ * kv_heads_;
  parallel_for(runs, n * head_dim_ >= (1 << 14), [&](int64_t run) {
    const int which = static_cast<int>(run / (rows_ * kv_heads_));
    const int64_t r = run / kv_heads_ % rows_, h = run % kv_heads_;
    const ops::ConstView& src = which ? v : k;
    float* dst = data(layer, which == 1) + ((r * kv_heads_ + h) * max_length_ + start) * head_dim_;
    const float* from = src.data + r * src.stride(0) + h * src.stride(1);
    for (int64_t t = 0; t < n; ++t)
      std::memcpy(dst + t * head_dim_, from + t * src.stride(2), head_dim_ * sizeof(float));
  });
  written_[layer] = std::max(written_[layer], start + n);
}

void KVCache::reorder(const std::vector<int64_t>& sources, int64_t length) {
  if (static_cast<int64_t>(sources.size()) != rows_)
    throw std::invalid_argument("sources: expected " + std::to_string(rows_) + " rows, got " +
                                std::to_string(sources.size()));
  for (int64_t s : sources)
    if (s < 0 || s >= rows_)
      throw std::invalid_argument("sources: row " + std::to_string(s) + " is outside [0, " +
                                  std::to_string(rows_) + ")");
  if (length < 0 || length > max_length_)
    throw std::invalid_argument("length: expected [0, max_length]");
  // Sources read by a moved row that is itself overwritten go to scratch first.
  std::map<int64_t, std::vector<float>> saved;
  const size_t span = static_cast<size_t>(length) * head_dim_;
  for (int64_t layer = 0; layer < layers_; ++layer) {
    for (int which = 0; which < 2; ++which) {
      float* base = data(layer, which == 1);
      auto row = [&](int64_t r, int64_t h) { return base + (r * kv_heads_ + h) * max_length_ * head_dim_; };
      saved.clear();
      for (int64_t r = 0; r < rows_; ++r) {
        const int64_t s = sources[r];
        if (s == r || sources[s] == s || saved.count(s)) continue;
        auto& copy = saved[s];  // row s will be overwritten: keep what it holds
        copy.resize(span * kv_heads_);
        for (int64_t h = 0; h < kv_heads_; ++h) std::memcpy(copy.data() + h * span, row(s, h), span * sizeof(float));
      }
      for (int64_t r = 0; r < rows_; ++r) {
        const int64_t s = sources[r];
        if (s == r) continue;
        const auto it = saved.find(s);
        for (int64_t h = 0; h < kv_heads_; ++h)
          std::memcpy(row(r, h), it != saved.end() ? it->second.data() + h * span : row(s, h),
                      span * sizeof(float));
      }
    }
  }
}

}  // namespace pt::model
