"""Checkpoint I/O: our safetensors reader/writer (checked against the safetensors package),
damaged files, our own format's round trip, and the errors a bad checkpoint or config gives."""

import json
import struct

import numpy as np
import pytest

import pytransformer
from pytransformer import safetensors as st
from pytransformer.config import ModelConfig


def _tensors(rng):
    return {
        "f32": rng.standard_normal((3, 5)).astype(np.float32),
        "f16": rng.standard_normal(7).astype(np.float16),
        "i64": rng.integers(-5, 5, (2, 2)),
        "empty": np.zeros((0, 4), np.float32),
        "scalar": np.array(1.5, np.float64),
        "flag": np.array([True, False]),
    }


def test_round_trip(tmp_path, rng):
    tensors = _tensors(rng)
    st.save(tensors, tmp_path / "a.safetensors", metadata={"k": "v"})
    loaded = st.load(tmp_path / "a.safetensors")
    assert set(loaded) == set(tensors)
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    assert not loaded["f32"].flags.writeable  # a view of the read-only memory map


def test_interoperates_with_the_safetensors_package(tmp_path, rng):
    reference = pytest.importorskip("safetensors.numpy")
    tensors = _tensors(rng)
    st.save(tensors, tmp_path / "ours.safetensors")
    theirs = reference.load_file(str(tmp_path / "ours.safetensors"))
    for name, array in tensors.items():
        np.testing.assert_array_equal(theirs[name], array)
    reference.save_file(tensors, str(tmp_path / "theirs.safetensors"))
    ours = st.load(tmp_path / "theirs.safetensors")
    for name, array in tensors.items():
        np.testing.assert_array_equal(ours[name], array)


def test_bfloat16_is_widened_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], np.float32)  # exactly representable in bf16
    words = (values.view(np.uint32) >> 16).astype("<u2")
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + words.tobytes())
    loaded = st.load(tmp_path / "b.safetensors")["w"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, values)


@pytest.mark.parametrize("damage", ["truncated_data", "huge_header", "bad_json", "tiny", "bad_offsets", "bad_dtype"])
def test_damaged_files_raise_clear_errors(tmp_path, rng, damage):
    path = tmp_path / "d.safetensors"
    st.save({"w": rng.standard_normal((4, 4)).astype(np.float32)}, path)
    blob = path.read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    if damage == "truncated_data":
        blob = blob[:-10]
    elif damage == "huge_header":
        blob = struct.pack("<Q", 1 << 40) + blob[8:]
    elif damage == "bad_json":
        blob = blob[:8] + b"{" * header_len + blob[8 + header_len:]
    elif damage == "tiny":
        blob = blob[:5]
    else:
        if damage == "bad_offsets":
            header["w"]["data_offsets"] = [0, 10_000]
        else:
            header["w"]["dtype"] = "F128"
        text = json.dumps(header).encode()
        blob = struct.pack("<Q", len(text)) + text + blob[8 + header_len:]
    path.write_bytes(blob)
    with pytest.raises(st.SafetensorsError, match="d.safetensors"):
        st.load(path)


def test_save_rejects_unsupported_dtypes(tmp_path):
    with pytest.raises(TypeError, match="complex"):
        st.save({"c": np.zeros(2, np.complex64)}, tmp_path / "c.safetensors")


def _encoder_config(**changes):
    fields = dict(kind="encoder", num_layers=1, d_model=16, num_heads=2, ffn_dim=24, vocab_size=11,
                  max_positions=8, norm_position="pre", final_norm=True, activation="gelu")
    fields.update(changes)
    return ModelConfig(**fields)


def _encoder_tensors(config, rng):
    E, F, V = config.d_model, config.ffn_dim, config.vocab_size
    t = {"embed.tokens": rng.standard_normal((V, E)), "embed.positions": rng.standard_normal((config.max_positions, E))}
    layer = "encoder.0."
    for name, shape in (("attn.qkv", (3 * E, E)), ("attn.out", (E, E)), ("ffn.up", (F, E)), ("ffn.down", (E, F))):
        t[layer + name + ".weight"] = rng.standard_normal(shape) / np.sqrt(shape[1])
        t[layer + name + ".bias"] = rng.standard_normal(shape[0]) * 0.1
    for norm in (layer + "attn_norm", layer + "ffn_norm", "encoder.final_norm"):
        t[norm + ".weight"] = 1 + 0.1 * rng.standard_normal(E)
        t[norm + ".bias"] = 0.1 * rng.standard_normal(E)
    return {k: np.asarray(v, np.float32) for k, v in t.items()}


def _reference_pre_ln_encoder(t, ids):
    """The pre-LN encoder written out with pytransformer.reference (the NumPy oracle)."""
    from pytransformer import reference as ref

    h = t["embed.tokens"][ids] + t["embed.positions"][: ids.shape[1]]
    p = "encoder.0."
    x = ref.layer_norm(h, t[p + "attn_norm.weight"], t[p + "attn_norm.bias"])
    wq, wk, wv = np.split(t[p + "attn.qkv.weight"], 3)
    bq, bk, bv = np.split(t[p + "attn.qkv.bias"], 3)
    h = h + ref.multi_head_attention(x, x, x, q_weight=wq, k_weight=wk, v_weight=wv,
                                     q_bias=bq, k_bias=bk, v_bias=bv, o_weight=t[p + "attn.out.weight"],
                                     o_bias=t[p + "attn.out.bias"], num_heads=2)
    x = ref.layer_norm(h, t[p + "ffn_norm.weight"], t[p + "ffn_norm.bias"])
    h = h + ref.feed_forward(x, t[p + "ffn.up.weight"], t[p + "ffn.up.bias"],
                             t[p + "ffn.down.weight"], t[p + "ffn.down.bias"], "gelu")
    return ref.layer_norm(h, t["encoder.final_norm.weight"], t["encoder.final_norm.bias"])


def test_our_format_round_trip_matches_the_numpy_reference(tmp_path, rng):
    config = _encoder_config()
    tensors = _encoder_tensors(config, rng)
    pytransformer.save(config, tensors, tmp_path)
    model = pytransformer.load(tmp_path)
    assert model.config == config
    ids = rng.integers(0, 11, (2, 8))
    np.testing.assert_allclose(model.encode(ids), _reference_pre_ln_encoder(tensors, ids), rtol=0, atol=1e-4)


def test_missing_and_misshapen_tensors_are_named(tmp_path, rng):
    config = _encoder_config()
    tensors = _encoder_tensors(config, rng)
    del tensors["encoder.0.ffn.up.bias"]
    pytransformer.save(config, tensors, tmp_path / "missing")
    with pytest.raises(ValueError, match="missing tensor 'encoder.0.ffn.up.bias'"):
        pytransformer.load(tmp_path / "missing")
    tensors = _encoder_tensors(config, rng)
    tensors["encoder.0.attn.qkv.weight"] = tensors["encoder.0.attn.qkv.weight"][:, :8]
    pytransformer.save(config, tensors, tmp_path / "shape")
    with pytest.raises(ValueError, match=r"'encoder.0.attn.qkv.weight': expected shape \(48, 16\), found \(48, 8\)"):
        pytransformer.load(tmp_path / "shape")


def test_hf_checkpoint_errors(tmp_path, rng):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    config = transformers.BertConfig(vocab_size=20, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=24, max_position_embeddings=8)
    state = transformers.BertModel(config, add_pooling_layer=False).state_dict()

    def write(folder, tensors, **config_changes):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({**config.to_dict(), **config_changes}))
        safetensors_torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
        return folder

    missing = {k: v for k, v in state.items() if k != "encoder.layer.0.output.dense.weight"}
    with pytest.raises(ValueError, match="missing tensor 'encoder.layer.0.output.dense.weight'"):
        pytransformer.load(write(tmp_path / "m", missing))
    wrong = dict(state, **{"encoder.layer.0.output.dense.bias": torch.zeros(5)})
    with pytest.raises(ValueError, match=r"encoder.layer.0.output.dense.bias.*expected shape \(16,\), found \(5,\)"):
        pytransformer.load(write(tmp_path / "w", wrong))
    with pytest.raises(ValueError, match="model_type 'whisper' is not supported; supported: .*bert"):
        pytransformer.load(write(tmp_path / "t", state, model_type="whisper"))
    with pytest.raises(ValueError, match="hidden_act 'mish'"):
        pytransformer.load(write(tmp_path / "a", state, hidden_act="mish"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        pytransformer.load(tmp_path / "nothing-here")
    with pytest.raises(ValueError, match="compute_type"):
        pytransformer.load(tmp_path / "m", compute_type="int4")


@pytest.mark.parametrize("changes,match", [
    ({"norm": "batch_norm"}, "config.norm: 'batch_norm' is not supported; supported: layer_norm, rms_norm"),
    ({"activation": "tanh"}, "config.activation"),
    ({"num_heads": 3}, "num_heads=3 does not divide d_model=16"),
    ({"num_kv_heads": 3, "num_heads": 4}, "num_kv_heads=3"),
    ({"num_layers": 0}, "config.num_layers"),
    ({"kind": "decoder-encoder"}, "config.kind"),
])
def test_config_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        _encoder_config(**changes)


def test_config_from_dict_rejects_unknown_and_missing_fields():
    data = _encoder_config().to_dict()
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        ModelConfig.from_dict({**data, "colour": "red"})
    del data["d_model"]
    with pytest.raises(ValueError, match="missing required fields \\['d_model'\\]"):
        ModelConfig.from_dict(data)
