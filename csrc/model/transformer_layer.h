// One Transformer layer run in a single call: self-attention (with a KV cache when decoding),
// optional cross-attention, the feed-forward network, their norms and residuals, pre-LN or
// post-LN, one block after the other or side by side (parallel residual). The Python model
// layer builds one per layer from the Linear layers it has packed, and calls it once per layer
// per forward pass. Op by op, Python dispatch, argument conversion and fresh arrays between the
// kernels took 13% of a MiniLM forward of 16 tokens (6% remains around the layers) and 5% of a
// GPT-2 decode step; paired, the whole-layer call is 5-7% faster on MiniLM B=1 and 2-9% on
// GPT-2 greedy, with bit-identical outputs (the same kernels in the same order). The
// intermediate arrays live in a per-thread workspace reused call after call.
// Shapes: B = batch, T = positions of this call, E = d_model, H / Hkv = query / key-value heads,
// D = head_dim, F = d_ff.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "kernels/activation.h"
#include "model/kv_cache.h"
#include "ops/linear.h"
#include "ops/linear_int8.h"
#include "ops/tensor.h"

namespace pt::model {

// A packed Linear layer of either precision, shared with the Python object that packed it.
class Linear {
 public:
  using Float32 = std::shared_ptr<const ops::PackedLinear>;
  using Int8 = std::shared_ptr<const ops::PackedLinearInt8>;
  explicit Linear(Float32 layer) : layer_(std::move(layer)) {}
  explicit Linear(Int8 layer) : layer_(std::move(layer)) {}

  int64_t in_features() const;
  int64_t out_features() const;
  void forward(const ops::ConstView& x, Activation act, const ops::ConstView* residual,
               const ops::MutView& out) const;

 private:
  std::variant<Float32, Int8> layer_;
};

// LayerNorm (gamma, beta) or RMSNorm (gamma only) over the last dimension.
struct Norm {
  bool rms = false;
  float eps = 1e-5f;
  std::vector<float> gamma;
  std::vector<float> beta;  // empty: none

  void apply(const ops::ConstView& x, const ops::MutView& out) const;
};

struct LayerShape {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  bool pre_norm = false;                 // x + f(norm(x)); else norm(x + f(x))
  std::optional<float> rotary_base;      // rotary positions on self-attention's q and k
  int64_t rotary_dim = 0;                // features of each head they rotate; 0 = head_dim
  // GPT-NeoX, Phi (pre-LN, no cross-attention): out = x + attn(norm1(x)) + ffn(norm2(x)), both
  // blocks reading the layer's input, instead of the FFN reading the attention's output.
  bool parallel_residual = false;
  Activation activation = Activation::none;  // of up, or of the gate when there is one
  int64_t sliding_window = 0;            // of causal self-attention (ops::attention); 0 = none
  std::optional<float> attention_scale;  // of both attentions' scores; none: 1 / sqrt(head_dim)
};

struct SelfAttentionWeights {
  Linear qkv;  // [(H + 2 Hkv) D, E]: q, k, v stacked
  Linear out;  // [E, H D]
  Norm norm;
  // Qwen3: each query and key head normalised over its D features before the rotary positions.
  std::optional<Norm> q_norm, k_norm;
};

struct CrossAttentionWeights {
  Linear q;    // [H D, E]; the memory's keys and values are projected once, outside
  Linear out;
  Norm norm;
};

struct FeedForwardWeights {
  Linear up;                   // [F, E]
  std::optional<Linear> gate;  // [F, E]: hidden = act(x W_gate) * (x W_up) (SwiGLU)
  Linear down;                 // [E, F]
  Norm norm;
};

// What one call attends to, beyond the hidden states.
struct LayerInputs {
  // Packed (padding-free) sequences: h is [1, N, E] holding every sequence back to back,
  // sequence b at [offsets[b], offsets[b + 1]). Not with a cache.
  const ops::TensorView<const int64_t>* offsets = nullptr;
  // Rotary positions, [B, T] or [1, N] when packed (see ops::rotary).
  const ops::TensorView<const int64_t>* positions = nullptr;
  // [B, keys] (keys = cache_start + T with a cache), nonzero = ignore the key.
  const ops::TensorView<const uint8_t>* key_padding_mask = nullptr;
  bool causal = false;
  // Self-attention's additive bias [B, H, T, keys] (T5's relative positions), any strides;
  // packed: for the longest sequence, see ops::attention.
  const ops::ConstView* attention_bias = nullptr;
  // Decoding: this call's keys and values go to `cache` at positions [cache_start,
  // cache_start + T) of `cache_layer`, and attention reads positions [0, cache_start + T).
  KVCache* cache = nullptr;
  int64_t cache_layer = 0;
  int64_t cache_start = 0;
  // Cross-attention: the memory's keys and values [1, Hkv, N_src, D], packed per sequence
  // (memory_offsets [B + 1]), or [B, Hkv, S, D] without memory_offsets.
  const ops::ConstView* memory_k = nullptr;
  const ops::ConstView* memory_v = nullptr;
  const ops::TensorView<const int64_t>* memory_offsets = nullptr;
};

class TransformerLayer {
 public:
  TransformerLayer(const LayerShape& shape, SelfAttentionWeights self_attention,
                   std::optional<CrossAttentionWeights> cross_attention, FeedForwardWeights ffn);

  // out [B, T, E] = the layer applied to h [B, T, E] (both contiguous).
  void forward(const ops::ConstView& h, const LayerInputs& in, const ops::MutView& out) const;

  int64_t d_model() const { return self_.qkv.in_features(); }
  bool has_cross_attention() const { return cross_.has_value(); }

 private:
  float score_scale() const;  // what attention multiplies q k^T by

  // The three blocks, each out = f(x) + residual (the residual add fused into its last GEMM).
  void self_attention(const ops::ConstView& x, const ops::ConstView& residual,
                      const LayerInputs& in, const ops::MutView& out) const;
  void cross_attention(const ops::ConstView& x, const ops::ConstView& residual,
                       const LayerInputs& in, const ops::MutView& out) const;
  void feed_forward(const ops::ConstView& x, const ops::ConstView& residual,
                    const LayerInputs& in, const ops::MutView& out) const;

  LayerShape shape_;
  SelfAttentionWeights self_;
  std::optional<CrossAttentionWeights> cross_;
  FeedForwardWeights ffn_;
};

}  // namespace pt::model
