// The key/value cache of a decoder: for each layer, keys and values of every position decoded
// so far, preallocated for (rows = batch x beams, max_length) so a decoding step only writes its
// new positions in place and attention reads the cache where it lies.
// L = layers, R = rows, Hkv = key/value heads, Tmax = max_length, D = head_dim.
//
// Positions are never read before they are written, so the storage need not start zeroed, and
// a freed cache's storage is kept for the next cache that fits it (see kv_cache.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/aligned.h"
#include "ops/tensor.h"

namespace pt::model {

// Frees the storage kept from the last cache freed (see kv_cache.cpp), if any; returns its bytes.
size_t release_spare_kv_storage();

class KVCache {
 public:
  KVCache(int64_t layers, int64_t rows, int64_t kv_heads, int64_t max_length, int64_t head_dim);
  ~KVCache();
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;

  // Stores k, v ([R, Hkv, n, D] views, last axis contiguous) of `layer` at positions
  // [start, start + n). Positions past start + n keep whatever they held. start may not pass
  // the positions written so far, so that no position before start + n is left unwritten.
  void write(int64_t layer, const ops::ConstView& k, const ops::ConstView& v, int64_t start);

  // Row r of the cache becomes old row sources[r], over the first `length` positions of every
  // layer (beam search keeps the surviving beams' histories). Rows whose source is themselves
  // are not touched, and only the source rows that are overwritten before being read are
  // copied to scratch, so keeping most beams in place costs little.
  void reorder(const std::vector<int64_t>& sources, int64_t length);

  // Storage of `layer` (keys when values is false): [R, Hkv, Tmax, D], contiguous.
  float* data(int64_t layer, bool values) const;
  // Positions [0, written(layer)) of `layer` hold what write() stored; the rest may hold an
  // earlier cache's keys, or nothing.
  int64_t written(int64_t layer) const { return written_[static_cast<size_t>(layer)]; }

  int64_t layers() const { return layers_; }
  int64_t rows() const { return rows_; }
  int64_t kv_heads() const { return kv_heads_; }
  int64_t max_length() const { return max_length_; }
  int64_t head_dim() const { return head_dim_; }
  size_t bytes() const { return static_cast<size_t>(2 * layers_ * row_floats()) * rows_ * sizeof(float); }

 private:
  int64_t row_floats() const { return kv_heads_ * max_length_ * head_dim_; }
  int64_t layers_, rows_, kv_heads_, max_length_, head_dim_;
  AlignedPtr<float> storage_;  // [L][keys, values][R][Hkv][Tmax][D], then unused floats
  size_t capacity_ = 0;        // floats in storage_ (a reused block may be larger than needed)
  std::vector<int64_t> written_;  // per layer: positions [0, written) have been written
};

}  // namespace pt::model
