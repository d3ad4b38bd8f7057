#include "model/transformer_layer.h"

#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "cpu/aligned.h"
#include "kernels/rotary_features.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/layer_norm.h"
#include "ops/rotary.h"

namespace pt::model {
namespace {

// The intermediate arrays of a forward pass, one buffer per role. Each grows to the largest
// call seen on its thread and is then reused: a steady stream of same-shaped calls allocates
// nothing (a fresh multi-MiB block would come from mmap and be faulted in page by page, every
// call). The buffers live as long as the thread; their size is that of the largest call's
// intermediates (about (4 E + 2 F + 3 (H + 2 Hkv) D) floats per token).
enum Buffer { kStreamA, kStreamB, kNormed, kBlockOut, kQkv, kQueries, kKeys, kContext, kHidden,
              kGate, kBuffers };

float* workspace(Buffer role, int64_t floats) {
  struct Slot {
    AlignedPtr<float> data;
    int64_t capacity = 0;
  };
  thread_local std::array<Slot, kBuffers> slots;
  Slot& slot = slots[role];
  if (slot.capacity < floats) {
    slot.data = aligned_array<float>(static_cast<size_t>(floats));
    slot.capacity = floats;
  }
  return slot.data.get();
}

// A view of contiguous data of the given shape.
template <class T>
ops::TensorView<T> dense(T* data, ops::Shape shape) {
  ops::Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return {data, std::move(shape), std::move(strides)};
}

// [B, T, heads * D] rows of `row_stride` floats (a column range of a wider array) seen as
// [B, heads, T, D].
template <class T>
ops::TensorView<T> as_heads(T* data, int64_t B, int64_t T_, int64_t heads, int64_t D,
                            int64_t row_stride) {
  return {data, {B, heads, T_, D}, {T_ * row_stride, D, row_stride, 1}};
}

ops::ConstView as_const(const ops::MutView& v) { return {v.data, v.shape, v.strides}; }

void check_norm(const Norm& norm, const char* name, int64_t d_model) {
  if (static_cast<int64_t>(norm.gamma.size()) != d_model ||
      (!norm.beta.empty() && static_cast<int64_t>(norm.beta.size()) != d_model))
    throw std::invalid_argument(std::string(name) + ": expected weight (and bias) of " +
                                std::to_string(d_model) + " features");
}

void check_linear(const Linear& linear, const char* name, int64_t in, int64_t out) {
  if (linear.in_features() != in || linear.out_features() != out)
    throw std::invalid_argument(std::string(name) + ": expected a Linear " + std::to_string(in) +
                                " -> " + std::to_string(out) + ", got " +
                                std::to_string(linear.in_features()) + " -> " +
                                std::to_string(linear.out_features()));
}

}  // namespace

int64_t Linear::in_features() const {
  return std::visit([](const auto& l) { return l->in_features(); }, layer_);
}

int64_t Linear::out_features() const {
  return std::visit([](const auto& l) { return l->out_features(); }, layer_);
}

void Linear::forward(const ops::ConstView& x, Activation act, const ops::ConstView* residual,
                     const ops::MutView& out) const {
  std::visit([&](const auto& l) { l->forward(x, act, residual, out); }, layer_);
}

void Norm::apply(const ops::ConstView& x, const ops::MutView& out) const {
  const auto g = dense(gamma.data(), {static_cast<int64_t>(gamma.size())});
  if (rms) {
    ops::rms_norm(x, nullptr, g, eps, out, nullptr);
  } else {
    const auto b = dense(beta.data(), {static_cast<int64_t>(beta.size())});
    ops::layer_norm(x, nullptr, g, beta.empty() ? nullptr : &b, eps, out, nullptr);
  }
}

TransformerLayer::TransformerLayer(const LayerShape& shape, SelfAttentionWeights self_attention,
                                   std::optional<CrossAttentionWeights> cross_attention,
                                   FeedForwardWeights ffn)
    : shape_(shape),
      self_(std::move(self_attention)),
      cross_(std::move(cross_attention)),
      ffn_(std::move(ffn)) {
  const int64_t H = shape.heads, Hkv = shape.kv_heads, D = shape.head_dim;
  // Bounded so that (heads + 2 kv_heads) * head_dim cannot wrap (it is checked against the
  // projections' sizes below, and a wrapped product could pass).
  constexpr int64_t kMost = int64_t{1} << 24;
  if (H < 1 || Hkv < 1 || D < 1 || H > kMost || D > kMost || H % Hkv != 0)
    throw std::invalid_argument("heads, kv_heads, head_dim: expected counts in [1, 2^24] with "
                                "heads a multiple of kv_heads, got " + std::to_string(H) + ", " +
                                std::to_string(Hkv) + ", " + std::to_string(D));
  if (!shape.rotary_base && shape.rotary_dim != 0)
    throw std::invalid_argument("rotary_dim: given without rotary_base (no rotary positions)");
  if (shape.rotary_base && rotated_features(shape.rotary_dim, D) % 2 != 0)
    throw std::invalid_argument("head_dim: rotary positions need an even head_dim, got " +
                                std::to_string(D));
  if (shape.parallel_residual && (!shape.pre_norm || cross_))
    throw std::invalid_argument("parallel_residual: expected a pre-norm layer without "
                                "cross-attention");
  const int64_t E = d_model(), F = ffn_.up.out_features();
  check_linear(self_.qkv, "qkv", E, (H + 2 * Hkv) * D);
  check_linear(self_.out, "out", H * D, E);
  check_norm(self_.norm, "self_norm", E);
  if (self_.q_norm.has_value() != self_.k_norm.has_value())
    throw std::invalid_argument("q_norm, k_norm: expected both or neither");
  if (self_.q_norm) {
    check_norm(*self_.q_norm, "q_norm", D);
    check_norm(*self_.k_norm, "k_norm", D);
  }
  if (cross_) {
    check_linear(cross_->q, "cross_q", E, H * D);
    check_linear(cross_->out, "cross_out", H * D, E);
    check_norm(cross_->norm, "cross_norm", E);
  }
  check_linear(ffn_.up, "up", E, F);
  if (ffn_.gate) check_linear(*ffn_.gate, "gate", E, F);
  check_linear(ffn_.down, "down", F, E);
  check_norm(ffn_.norm, "ffn_norm", E);
}

void TransformerLayer::forward(const ops::ConstView& h, const LayerInputs& in,
                               const ops::MutView& out) const {
  ops::expect_rank("h", h, 3);
  ops::expect_contiguous("h", h);
  if (h.dim(2) != d_model())
    ops::fail_shape("h", "[B, T, " + std::to_string(d_model()) + "]", h.shape);
  ops::expect_shape("out", out, h.shape);
  ops::expect_contiguous("out", out);
  if (cross_ && !(in.memory_k && in.memory_v))
    throw std::invalid_argument("memory_k, memory_v: this layer has cross-attention, which "
                                "needs the memory's keys and values");
  if (!cross_ && (in.memory_k || in.memory_v || in.memory_offsets))
    throw std::invalid_argument("memory_k, memory_v, memory_offsets: this layer has no "
                                "cross-attention");
  if (in.cache) {
    const KVCache& cache = *in.cache;
    if (in.offsets)
      throw std::invalid_argument("offsets: packed sequences cannot use a KV cache");
    if (cache.rows() != h.dim(0) || cache.kv_heads() != shape_.kv_heads ||
        cache.head_dim() != shape_.head_dim)
      throw std::invalid_argument(
          "cache: expected " + std::to_string(h.dim(0)) + " rows of " +
          std::to_string(shape_.kv_heads) + " heads of " + std::to_string(shape_.head_dim) +
          ", got " + std::to_string(cache.rows()) + " rows of " +
          std::to_string(cache.kv_heads()) + " heads of " + std::to_string(cache.head_dim()));
  }
  const int64_t n = h.numel();

  if (shape_.parallel_residual) {  // x + attn(norm1(x)) + ffn(norm2(x))
    const auto normed = dense(workspace(kNormed, n), h.shape);
    const auto attended = dense(workspace(kStreamA, n), h.shape);  // x + attn(norm1(x))
    self_.norm.apply(h, normed);
    self_attention(as_const(normed), h, in, attended);
    ffn_.norm.apply(h, normed);
    feed_forward(as_const(normed), as_const(attended), in, out);
    return;
  }

  // The residual stream: each block reads x and writes the next x, the last one into `out`.
  using Block = void (TransformerLayer::*)(const ops::ConstView&, const ops::ConstView&,
                                           const LayerInputs&, const ops::MutView&) const;
  struct Step {
    Block block;
    const Norm* norm;
  };
  std::array<Step, 3> steps{};
  int count = 0;
  steps[count++] = {&TransformerLayer::self_attention, &self_.norm};
  if (cross_) steps[count++] = {&TransformerLayer::cross_attention, &cross_->norm};
  steps[count++] = {&TransformerLayer::feed_forward, &ffn_.norm};

  ops::ConstView x = h;
  for (int i = 0; i < count; ++i) {
    const ops::MutView next =
        i == count - 1 ? out : dense(workspace(i % 2 ? kStreamB : kStreamA, n), h.shape);
    const auto run = [&](const ops::ConstView& input, const ops::MutView& dst) {
      (this->*steps[i].block)(input, x, in, dst);
    };
    if (shape_.pre_norm) {  // x + f(norm(x))
      const auto normed = dense(workspace(kNormed, n), h.shape);
      steps[i].norm->apply(x, normed);
      run(as_const(normed), next);
    } else {  // norm(x + f(x))
      const auto sum = dense(workspace(kBlockOut, n), h.shape);
      run(x, sum);
      steps[i].norm->apply(as_const(sum), next);
    }
    x = as_const(next);
  }
}

void TransformerLayer::self_attention(const ops::ConstView& x, const ops::ConstView& residual,
                                      const LayerInputs& in, const ops::MutView& out) const {
  const int64_t B = x.dim(0), T = x.dim(1);
  const int64_t H = shape_.heads, Hkv = shape_.kv_heads, D = shape_.head_dim;
  const int64_t width = (H + 2 * Hkv) * D;
  float* qkv = workspace(kQkv, B * T * width);
  self_.qkv.forward(x, Activation::none, nullptr, dense(qkv, {B, T, width}));
  if (self_.q_norm) {
    // A token's query heads lie back to back in its row of the projection, and so do its key
    // heads: each is normalised in place as a [heads, D] block.
    for (int64_t row = 0; row < B * T; ++row) {
      float* q_heads = qkv + row * width;
      float* k_heads = q_heads + H * D;
      self_.q_norm->apply(dense<const float>(q_heads, {H, D}), dense(q_heads, {H, D}));
      self_.k_norm->apply(dense<const float>(k_heads, {Hkv, D}), dense(k_heads, {Hkv, D}));
    }
  }
  // q, k and v are column ranges of the projection, read in place as [B, heads, T, D].
  ops::ConstView q = as_heads<const float>(qkv, B, T, H, D, width);
  ops::ConstView k = as_heads<const float>(qkv + H * D, B, T, Hkv, D, width);
  ops::ConstView v = as_heads<const float>(qkv + (H + Hkv) * D, B, T, Hkv, D, width);
  if (shape_.rotary_base) {
    if (!in.positions)
      throw std::invalid_argument("positions: this layer uses rotary positions, which need them");
    const auto q_rotated = dense(workspace(kQueries, B * H * T * D), {B, H, T, D});
    const auto k_rotated = dense(workspace(kKeys, B * Hkv * T * D), {B, Hkv, T, D});
    ops::rotary(q, *in.positions, *shape_.rotary_base, q_rotated, shape_.rotary_dim);
    ops::rotary(k, *in.positions, *shape_.rotary_base, k_rotated, shape_.rotary_dim);
    q = as_const(q_rotated);
    k = as_const(k_rotated);
  }
  if (in.cache) {
    KVCache& cache = *in.cache;
    cache.write(in.cache_layer, k, v, in.cache_start);
    const int64_t keys = in.cache_start + T, tmax = cache.max_length();
    const ops::Shape shape{cache.rows(), Hkv, keys, D};
    const ops::Shape strides{Hkv * tmax * D, tmax * D, D, 1};
    k = {cache.data(in.cache_layer, false), shape, strides};
    v = {cache.data(in.cache_layer, true), shape, strides};
  }
  float* context = workspace(kContext, B * T * H * D);  // [B, T, H, D]: out's input as it is
  ops::attention(q, k, v, in.key_padding_mask, in.causal, in.attention_bias, score_scale(),
                 as_heads(context, B, T, H, D, H * D), in.offsets, in.offsets,
                 shape_.sliding_window);
  self_.out.forward(dense<const float>(context, {B, T, H * D}), Activation::none, &residual, out);
}

float TransformerLayer::score_scale() const {
  return shape_.attention_scale ? *shape_.attention_scale
                                : 1.0f / std::sqrt(static_cast<float>(shape_.head_dim));
}

void TransformerLayer::cross_attention(const ops::ConstView& x, const ops::ConstView& residual,
                                       const LayerInputs& in, const ops::MutView& out) const {
  const int64_t B = x.dim(0), T = x.dim(1);
  const int64_t H = shape_.heads, D = shape_.head_dim;
  float* q = workspace(kQueries, B * T * H * D);
  cross_->q.forward(x, Activation::none, nullptr, dense(q, {B, T, H * D}));
  float* context = workspace(kContext, B * T * H * D);
  ops::attention(as_heads<const float>(q, B, T, H, D, H * D), *in.memory_k, *in.memory_v,
                 nullptr, false, nullptr, score_scale(), as_heads(context, B, T, H, D, H * D),
                 in.offsets, in.memory_offsets);
  cross_->out.forward(dense<const float>(context, {B, T, H * D}), Activation::none, &residual,
                      out);
}

void TransformerLayer::feed_forward(const ops::ConstView& x, const ops::ConstView& residual,
                                    const LayerInputs&, const ops::MutView& out) const {
  const int64_t B = x.dim(0), T = x.dim(1), F = ffn_.up.out_features();
  const auto hidden = dense(workspace(kHidden, B * T * F), {B, T, F});
  if (ffn_.gate) {
    const auto gate = dense(workspace(kGate, B * T * F), {B, T, F});
    ffn_.gate->forward(x, Activation::none, nullptr, gate);
    ffn_.up.forward(x, Activation::none, nullptr, hidden);
    // Elementwise, so the product may overwrite the up projection it reads.
    ops::gated_activation(as_const(gate), as_const(hidden), shape_.activation, hidden);
  } else {
    ffn_.up.forward(x, shape_.activation, nullptr, hidden);
  }
  ffn_.down.forward(as_const(hidden), Activation::none, &residual, out);
}

}  // namespace pt::model
