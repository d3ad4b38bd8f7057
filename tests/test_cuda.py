"""The CUDA kernels (csrc/cuda, the build's ``-Ccmake.define.PYTRANSFORMER_CUDA=ON``) on a
real NVIDIA GPU: each op against the NumPy reference, every architecture against the CPU path
(itself tested against transformers) and against PyTorch on the same GPU. Skipped, with the
reason, where there is no CUDA build or no GPU (CI builds the CUDA module but has no GPU)."""

import numpy as np
import pytest

import pytransformer
from pytransformer import backends, reference

pytestmark = pytest.mark.skipif(not pytransformer.cuda_available(),
                                reason=backends.cuda_unavailable_reason() or "CUDA available")

# fp32 on the GPU: cuBLAS and our kernels sum in other orders than the CPU; 1e-3 of the output
# scale is the bound (observed differences are ~1e-6 relative).
FP32_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def gpu():
    return backends.get("cuda")


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_upload_download_and_strided_views_round_trip(gpu, rng):
    x = _randn(rng, 3, 5, 8)
    d = gpu.upload(x)
    np.testing.assert_array_equal(gpu.to_numpy(d), x)
    view = d[:, 1:4, ::2].transpose(2, 0, 1)
    np.testing.assert_array_equal(gpu.to_numpy(view), x[:, 1:4, ::2].transpose(2, 0, 1))
    np.testing.assert_array_equal(gpu.to_numpy(gpu.contiguous(view)), x[:, 1:4, ::2].transpose(2, 0, 1))
    np.testing.assert_array_equal(gpu.to_numpy(gpu.take_rows(d.reshape(15, 8), np.array([4, 0, 4]))),
                                  x.reshape(15, 8)[[4, 0, 4]])


@pytest.mark.parametrize("activation", ["none", "relu", "gelu", "gelu_tanh", "silu"])
@pytest.mark.parametrize("M,K,N", [(1, 64, 96), (37, 80, 33), (128, 384, 1536)])
def test_linear_matches_reference(gpu, rng, activation, M, K, N):
    from pytransformer import _core

    x, w, b, r = _randn(rng, M, K), _randn(rng, N, K), _randn(rng, N), _randn(rng, M, N)
    layer = gpu.linear(w, b)
    out = layer.forward(gpu.upload(x), getattr(_core.Activation, activation), gpu.upload(r))
    expected = reference.linear(x, w, b, None if activation == "none" else activation) + r
    np.testing.assert_allclose(gpu.to_numpy(out), expected, rtol=0,
                               atol=FP32_TOLERANCE * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("compute_type,tolerance", [("float16", 4e-3), ("bfloat16", 3e-2)])
def test_half_weight_linear_is_close(rng, compute_type, tolerance):
    # Both the weight and the activation are rounded to the half type (fp16: 11-bit
    # significand, relative 4.9e-4; bf16: 8-bit, 3.9e-3) and products summed in fp32: the
    # error of a K-term dot product of unit-scale values grows like sqrt(K) * eps.
    from pytransformer import _core

    gpu = backends.get("cuda", compute_type)
    x, w = _randn(rng, 16, 256), _randn(rng, 64, 256)
    out = gpu.to_numpy(gpu.linear(w, None).forward(gpu.upload(x), _core.Activation.none))
    expected = x @ w.T
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance * np.abs(expected).max())


def test_norms_with_residual(gpu, rng):
    x, r, w, b = _randn(rng, 9, 384), _randn(rng, 9, 384), _randn(rng, 384), _randn(rng, 384)
    x[3] += 1000.0  # a large mean: variance must not cancel catastrophically
    out = gpu.layer_norm(gpu.upload(x), gpu.upload(w), gpu.upload(b), 1e-5, gpu.upload(r))
    np.testing.assert_allclose(gpu.to_numpy(out), reference.layer_norm(x, w, b, 1e-5, r), atol=1e-3)
    out = gpu.rms_norm(gpu.upload(x), gpu.upload(w), 1e-6, None)
    np.testing.assert_allclose(gpu.to_numpy(out), reference.rms_norm(x, w, 1e-6), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("B,H,Hkv,Tq,Tk,D", [(2, 4, 4, 7, 7, 32), (1, 8, 2, 1, 300, 64),
                                             (3, 2, 1, 130, 130, 128), (1, 1, 1, 5, 9, 256)])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_reference(gpu, rng, B, H, Hkv, Tq, Tk, D, causal):
    q, k, v = _randn(rng, B, H, Tq, D), _randn(rng, B, Hkv, Tk, D), _randn(rng, B, Hkv, Tk, D)
    mask = rng.random((B, Tk)) < 0.2
    mask[0] = True  # a batch row with no visible key gives zeros
    out = gpu.empty((B, H, Tq, D))
    gpu.attention(gpu.upload(q), gpu.upload(k), gpu.upload(v), mask, causal, 0.125, out, None, None)
    expected = reference.scaled_dot_product_attention(q, k, v, key_padding_mask=mask, causal=causal,
                                                      scale=0.125)
    np.testing.assert_allclose(gpu.to_numpy(out), expected, rtol=0, atol=1e-4)


def test_packed_attention_matches_per_sequence_reference(gpu, rng):
    lengths, H, D = [5, 1, 40], 4, 64
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    N = offsets[-1]
    q, k, v = (_randn(rng, 1, H, N, D) for _ in range(3))
    out = gpu.empty((1, H, N, D))
    gpu.attention(gpu.upload(q), gpu.upload(k), gpu.upload(v), None, True, 0.1, out, offsets, offsets)
    got = gpu.to_numpy(out)
    for b in range(len(lengths)):
        s = slice(offsets[b], offsets[b + 1])
        expected = reference.scaled_dot_product_attention(q[:, :, s], k[:, :, s], v[:, :, s],
                                                          causal=True, scale=0.1)
        np.testing.assert_allclose(got[:, :, s], expected, rtol=0, atol=1e-4)


def test_rotary_embedding_and_gated_activation(gpu, rng):
    from pytransformer import _core

    x = _randn(rng, 2, 3, 6, 16)
    positions = np.array([[0, 1, 2, 3, 4, 5], [100, 101, 4000, 9, 8, 7]], dtype=np.int64)
    out = gpu.rotary(gpu.upload(x), positions, 10000.0)
    np.testing.assert_allclose(gpu.to_numpy(out), reference.rotary_embedding(x, positions), atol=1e-4)
    gate, up = _randn(rng, 5, 40), _randn(rng, 5, 40)
    out = gpu.gated_activation(gpu.upload(gate), gpu.upload(up), _core.Activation.silu)
    np.testing.assert_allclose(gpu.to_numpy(out), reference.silu(gate) * up, atol=1e-5)


def test_embedding_gathers_scaled_rows(gpu, rng):
    table, ids = _randn(rng, 50, 24), rng.integers(0, 50, (3, 4))
    out = gpu.embedding(ids, gpu.upload(table), 2.0)
    np.testing.assert_allclose(gpu.to_numpy(out), 2.0 * reference.embedding(ids, table), atol=0)


def test_out_of_memory_is_a_python_exception():
    from pytransformer import _cuda

    with pytest.raises(MemoryError, match="CUDA out of memory"):
        _cuda.Buffer(1 << 50)  # a petabyte


def test_bad_views_are_refused_with_value_errors(gpu, rng):
    x = gpu.upload(_randn(rng, 4, 8))
    with pytest.raises(ValueError):
        gpu.layer_norm(x, gpu.upload(_randn(rng, 7)), None, 1e-5)  # weight of the wrong size
    with pytest.raises(ValueError):
        gpu.linear(_randn(rng, 3, 5), None).forward(x, 0)  # K = 8 against a weight of K = 5


# -- whole models ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    pytest.importorskip("transformers")
    from device_parity import checkpoints

    return checkpoints(tmp_path_factory.mktemp("cuda_models"))


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "qwen3", "mistral", "t5", "marian",
                                  "bart"])
def test_models_on_cuda_match_the_cpu_path(paths, name):
    from device_parity import CHECKS

    CHECKS[name](paths[name], "cuda", FP32_TOLERANCE)


@pytest.mark.parametrize("compute_type,tolerance", [("float16", 2e-2), ("bfloat16", 8e-2)])
@pytest.mark.parametrize("name", ["gpt2", "llama", "bart"])
def test_half_compute_types_stay_close(paths, name, compute_type, tolerance):
    # Tolerances of the logits' scale: per-product rounding as in test_half_weight_linear_is_close,
    # compounded over two layers of random unit-scale weights (an untrained model's logits are
    # far more sensitive than a trained one's). Greedy tokens are not compared: near-ties flip.
    from device_parity import CHECKS

    CHECKS[name](paths[name], "cuda", tolerance, compute_type=compute_type, generation=False)


def test_models_on_cuda_match_pytorch_on_the_gpu(paths):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    rng = np.random.default_rng(3)
    ids = rng.integers(3, 97, (2, 21))
    mask = np.ones_like(ids)
    mask[1, 15:] = 0
    for name, cls, output in [("gpt2", transformers.GPT2LMHeadModel, "logits"),
                              ("llama", transformers.LlamaForCausalLM, "logits")]:
        hf = cls.from_pretrained(paths[name]).cuda().eval()
        with torch.no_grad():
            expected = getattr(hf(input_ids=torch.tensor(ids).cuda(),
                                  attention_mask=torch.tensor(mask).cuda()), output).cpu().numpy()
        ours = pytransformer.load(paths[name], device="cuda").forward(ids, mask)
        real = mask.astype(bool)
        np.testing.assert_allclose(ours[real], expected[real], rtol=0,
                                   atol=FP32_TOLERANCE * max(1.0, np.abs(expected).max()))
