// The CUDA op fronts: each checks its views on the host (std::invalid_argument naming the
// argument), then launches its kernel(s) on the default stream and checks the launch. None
// synchronises unless it says so. Optional arguments are null pointers.
// "rows" arguments are views whose leading axes collapse into one row axis (see as_rows).
#pragma once
#include "cuda/view.h"

namespace pt::cuda {

// --- copy.cu ---
// dst (C-contiguous) <- nbytes of host memory.
void copy_from_host(const DeviceView& dst, const void* src, int64_t nbytes);
// nbytes of host memory <- src (any strides; gathered on the device first when strided).
// Synchronous.
void copy_to_host(const DeviceView& src, void* dst, int64_t nbytes);
// dst <- src, both any strides (not overlapping), same shape and dtype, at most 6 axes of
// size > 1.
void copy(const DeviceView& dst, const DeviceView& src);
// dst (float16 or bfloat16, contiguous) <- src (float32 rows), rounding to nearest even.
void convert(const DeviceView& dst, const DeviceView& src);
// dst[i] = src[index[i]] for rows; rows whose index is outside [0, rows of src) become zeros.
void gather_rows(const DeviceView& dst, const DeviceView& src, const DeviceView& index);

// --- add.cu ---
// dst = a + b, float32 rows of one shape.
void add(const DeviceView& dst, const DeviceView& a, const DeviceView& b);

// --- layer_norm.cu ---
// s = x + residual per row (or x); out = (s - mean) / sqrt(var + eps) * weight + bias, or for
// RMSNorm out = s / sqrt(mean(s^2) + eps) * weight; sum_out (optional) receives s.
void layer_norm(const DeviceView& out, const DeviceView& x, const DeviceView& weight,
                const DeviceView* bias, float eps, const DeviceView* residual,
                const DeviceView* sum_out);
void rms_norm(const DeviceView& out, const DeviceView& x, const DeviceView& weight, float eps,
              const DeviceView* residual, const DeviceView* sum_out);

// --- gated_activation.cu ---
// out = act(gate) * up, float32 rows.
void gated_activation(const DeviceView& out, const DeviceView& gate, const DeviceView& up,
                      int activation);

// --- embedding.cu ---
// out[i] = table[ids[i]] * scale; ids outside [0, V) give zero rows.
void embedding(const DeviceView& out, const DeviceView& ids, const DeviceView& table, float scale);

// --- rotary.cu ---
// Rotate-half rotary embedding of the first rotary_dim features (0: all D) of each head of
// x [B, H, T, D] at positions [B, T] or [T] into out; the others are copied.
void rotary(const DeviceView& out, const DeviceView& x, const DeviceView& positions, float base,
            int64_t rotary_dim = 0);

// --- attention.cu ---
// The CPU op's semantics exactly (csrc/ops/attention.h): q [B, H, Tq, D], k, v [B, Hkv, Tk, D],
// out [B, H, Tq, D], last strides 1; optional key padding mask [B, Tk] uint8, additive bias
// broadcast to [B, H, Tq, Tk], packed sequences through q_offsets / k_offsets [B + 1] (a bias
// then for the longest ones), a sliding window with causal.
void attention(const DeviceView& out, const DeviceView& q, const DeviceView& k,
               const DeviceView& v, const DeviceView* key_padding_mask, bool causal,
               const DeviceView* bias, float scale, const DeviceView* q_offsets,
               const DeviceView* k_offsets, int64_t sliding_window = 0);

}  // namespace pt::cuda
