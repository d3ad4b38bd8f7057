"""Checkpoint I/O: our safetensors reader/writer (checked against the safetensors package),
damaged files, our own format's round trip, and the errors a bad checkpoint or config gives."""

import json
import struct

import numpy as np
import pytest

import pytransformer
from pytransformer import safetensors as st
from pytransformer.config import ModelConfig
from pytransformer.weights import expected_shapes


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


@pytest.mark.parametrize("damage", ["truncated_data", "huge_header", "bad_json", "tiny", "bad_offsets", "bad_dtype",
                                    "deep_json"])
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
    elif damage == "deep_json":  # valid JSON, but json.loads would raise RecursionError
        text = b"[" * 100_000 + b"]" * 100_000
        blob = struct.pack("<Q", len(text)) + text
    else:
        if damage == "bad_offsets":
            header["w"]["data_offsets"] = [0, 10_000]
        else:
            header["w"]["dtype"] = "F128"
        text = json.dumps(header).encode()
        blob = struct.pack("<Q", len(text)) + text + blob[8 + header_len:]
    path.write_bytes(blob)
    with pytest.raises(st.SafetensorsError, match="d.safetensors: " + ("the header" if "json" in damage else "")):
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
    ({"num_layers": True}, "config.num_layers: expected a positive int, got True"),
    ({"num_decoder_layers": -1}, "config.num_decoder_layers: expected a positive int, got -1"),
    ({"num_kv_heads": -2}, "config.num_kv_heads: expected a positive int, got -2"),
    ({"num_kv_heads": 0}, "config.num_kv_heads: expected a positive int, got 0"),
    ({"max_positions": 0}, "config.max_positions: expected a positive int, got 0"),
    ({"max_positions": "8"}, "config.max_positions: expected a positive int, got '8'"),
    ({"max_positions": 8.0}, "config.max_positions: expected a positive int, got 8.0"),
    ({"type_vocab_size": -1}, "config.type_vocab_size: expected a non-negative int, got -1"),
    ({"pad_token_id": "0"}, "config.pad_token_id: expected an int, got '0'"),
    ({"norm_eps": float("nan")}, "config.norm_eps: expected a finite number, got nan"),
    ({"norm_eps": -1e-5}, "config.norm_eps: expected a non-negative number"),
    ({"embedding_scale": float("inf")}, "config.embedding_scale: expected a finite number"),
    ({"rope_base": 0}, "config.rope_base: expected a positive number, got 0"),
    ({"sliding_window": 4}, "config.sliding_window: an encoder attends both ways"),
    ({"attention_scale": float("nan")}, "config.attention_scale: expected a finite number, got nan"),
    ({"kind": "decoder", "num_labels": 2}, "config.num_labels: only encoders have a classification head"),
    ({"num_labels": -1}, "config.num_labels: expected a non-negative int, got -1"),
    ({"classifier_activation": "sigmoid"}, "config.classifier_activation: 'sigmoid' is not supported"),
    ({"attention_head_dim": 0}, "config.attention_head_dim: expected a positive int, got 0"),
    ({"relative_buckets": 3}, "config.relative_buckets: expected an int >= 4, got 3"),
    ({"relative_buckets": 32, "relative_max_distance": 16},
     "config.relative_max_distance: expected more than half of relative_buckets=32"),
    ({"kind": "decoder", "sliding_window": 0}, "config.sliding_window: expected a positive int, got 0"),
    ({"kind": "decoder", "sliding_window_layers": [0]},
     "config.sliding_window_layers: given without sliding_window"),
    ({"kind": "decoder", "num_layers": 2, "sliding_window": 4, "sliding_window_layers": [2]},
     r"config.sliding_window_layers: expected a list of decoder layer indices in \[0, 2\), got \[2\]"),
    ({"kind": "encoder-decoder", "num_decoder_layers": 1, "sliding_window": 4,
      "sliding_window_layers": [1]}, r"indices in \[0, 1\)"),
    ({"kind": "decoder", "sliding_window": 4, "sliding_window_layers": "0"},
     "config.sliding_window_layers: expected a list"),
    ({"rotary_dim": 4}, "config.rotary_dim: given with positions='learned'"),
    ({"positions": "rotary", "rotary_dim": 3}, "config.rotary_dim: expected an even number"),
    ({"positions": "rotary", "rotary_dim": 0}, "config.rotary_dim: expected an int >= 2, got 0"),
    ({"positions": "rotary", "rotary_dim": 10},  # head_dim 8
     "config.rotary_dim: expected an even number of features up to head_dim=8, got 10"),
    ({"parallel_residual": True}, "config.parallel_residual: only pre-norm decoder-only models"),
    ({"kind": "decoder", "norm_position": "post", "parallel_residual": True},
     "config.parallel_residual: only pre-norm decoder-only models"),
    ({"kind": "decoder", "norm_position": "pre", "parallel_residual": 1},
     "config.parallel_residual: expected a bool, got 1"),
])
def test_config_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        _encoder_config(**changes)


def test_config_heads_need_not_divide_d_model_with_attention_head_dim():
    config = _encoder_config(num_heads=3, attention_head_dim=4)
    assert config.head_dim == 4 and config.score_scale == 0.5
    shapes = expected_shapes(config)
    assert shapes["encoder.0.attn.qkv.weight"] == (36, 16)
    assert shapes["encoder.0.attn.out.weight"] == (16, 12)


def test_config_from_dict_rejects_unknown_and_missing_fields():
    data = _encoder_config().to_dict()
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        ModelConfig.from_dict({**data, "colour": "red"})
    del data["d_model"]
    with pytest.raises(ValueError, match="missing required fields \\['d_model'\\]"):
        ModelConfig.from_dict(data)


def test_config_sliding_window_of_each_decoder_layer():
    every = _encoder_config(kind="decoder", num_layers=2, sliding_window=8)
    assert [every.sliding_window_of(i) for i in range(2)] == [8, 8]
    some = _encoder_config(kind="decoder", num_layers=2, sliding_window=8, sliding_window_layers=[1])
    assert [some.sliding_window_of(i) for i in range(2)] == [0, 8]
    assert ModelConfig.from_dict(json.loads(some.to_json())) == some
    assert _encoder_config(kind="decoder").sliding_window_of(0) == 0


def test_config_pad_token_id_may_be_any_int():
    assert _encoder_config(pad_token_id=-1).pad_token_id == -1  # as in some LLaMA config.json files


def _hf_folder(path, **raw):
    """A Hugging Face folder whose config.json is ``raw`` and a placeholder model.safetensors
    (the config errors come first)."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps(raw))
    st.save({"x": np.zeros(1, np.float32)}, path / "model.safetensors")
    return path


@pytest.mark.parametrize("raw,match", [
    (dict(model_type="llama", hidden_size=16, num_attention_heads=0),  # was a ZeroDivisionError
     "config.json: num_attention_heads: expected a positive int, got 0"),
    (dict(model_type="llama", hidden_size=16, num_attention_heads=2, num_key_value_heads=-1),
     "config.json: num_key_value_heads: expected a positive int, got -1"),
    (dict(model_type="phi3", hidden_size=16, num_attention_heads=2, partial_rotary_factor=0.1),
     "config.json: partial_rotary_factor 0.1 rotates 0 of head_dim=8 features"),
    (dict(model_type="phi3", hidden_size=16, num_attention_heads=2, partial_rotary_factor=1.5),
     r"config.json: partial_rotary_factor 1.5: expected a number in \(0, 1\]"),
    (dict(model_type="gptj", n_embd=32, n_head=2, rotary_dim=None),
     "config.json: rotary_dim None rotates 32 features; expected an even number up to the head's 16"),
    (dict(model_type="gpt_neox", hidden_size=32, num_attention_heads=2, rotary_emb_base=-1.0),
     "config.json: rotary_emb_base -1.0: expected a positive number"),
    (dict(model_type="phi3", hidden_size=16, num_attention_heads=2,
          rope_scaling={"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}),
     "config.json: rope scaling 'longrope' is not supported"),
    (dict(model_type="gpt2", n_embd=16, n_head=2, n_layer="2"),
     "config.json: n_layer: expected a positive int, got '2'"),
    (dict(model_type="bert", hidden_size=16, num_attention_heads=2, type_vocab_size=-1),
     "config.json: type_vocab_size: expected a non-negative int, got -1"),
    (dict(model_type="bart", d_model="16", scale_embedding=True),
     "config.json: d_model: expected a positive int, got '16'"),
    (dict(model_type="marian", encoder_attention_heads=0, decoder_attention_heads=0),
     "config.json: encoder_attention_heads: expected a positive int, got 0"),
])
def test_hf_config_fields_are_checked_and_named(tmp_path, raw, match):
    with pytest.raises(ValueError, match=match):
        pytransformer.load(_hf_folder(tmp_path / "hf", **raw))


def test_hf_config_missing_field_takes_the_transformers_default(tmp_path):
    """transformers fills a field missing from config.json with its config class's default
    (GPT2Config: n_layer=12), and so does the converter (it raised KeyError)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=11, n_embd=8, n_layer=12, n_head=2, n_positions=8)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    del raw["n_layer"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert pytransformer.load(tmp_path).config.num_layers == 12


@pytest.mark.parametrize("file", ["config.json", "generation_config.json"])
@pytest.mark.parametrize("text,match", [
    ("[1]", "expected a JSON object at the top level, got a list"),  # was an AttributeError
    ("[" * 100_000 + "]" * 100_000, "cannot be read as JSON"),  # was a RecursionError
    ("{", "cannot be read as JSON"),
], ids=["list", "deep", "broken"])
def test_json_files_that_are_not_objects_are_named(tmp_path, rng, file, text, match):
    config = _encoder_config(kind="decoder")
    pytransformer.save(config, _decoder_tensors(config, rng), tmp_path)
    (tmp_path / file).write_text(text)
    with pytest.raises(ValueError, match=f"{file}: {match}"):
        pytransformer.load(tmp_path)


def _decoder_tensors(config, rng):
    return {name: rng.standard_normal(shape).astype(np.float32)
            for name, shape in pytransformer.weights.expected_shapes(config).items()}


def test_tensors_of_the_wrong_dtype_are_named(tmp_path, rng):
    """Every tensor is floating point but for the int8 Linear weights of a quantized checkpoint,
    which need their .weight_scale (these reached the kernels' bindings as an
    "incompatible function arguments" TypeError)."""
    from pytransformer import quantize

    config = _encoder_config(kind="decoder")
    tensors = _decoder_tensors(config, rng)
    name = "decoder.0.ffn.up.weight"
    quantized = quantize.quantize_tensors(tensors)
    cases = {
        "no_scale": ({k: v for k, v in quantized.items() if k != name + "_scale"},
                     f"'{name}': an int8 weight needs its scales '{name}_scale', which are missing"),
        "int8_in_float": (dict(tensors, **{name: quantized[name]}),
                          f"'{name}': an int8 weight needs its scales"),
        "scale_shape": (dict(quantized, **{name + "_scale": quantized[name + "_scale"][:8]}),
                        rf"'{name}_scale': expected float scales of shape \(24,\), found float32 \(8,\)"),
        "bool": (dict(tensors, **{name: tensors[name] > 0}),
                 f"'{name}': expected a floating-point dtype, found bool"),
        "int8_embedding": (dict(tensors, **{"embed.tokens": tensors["embed.tokens"].astype(np.int8)}),
                           "'embed.tokens': expected a floating-point dtype, found int8"),
    }
    for case, (bad, match) in cases.items():
        pytransformer.weights.save(config, bad, tmp_path / case)
        for compute_type in (None, "float32", "int8"):
            with pytest.raises(ValueError, match=match):
                pytransformer.load(tmp_path / case, compute_type=compute_type)


def test_hf_rope_reads_every_spelling():
    """hf_rope: transformers 5's rope_parameters, the older top-level fields (GPT-NeoX's
    rotary_pct / rotary_emb_base only), the config class's default fraction for a file without
    one, and no partial rotary at all for the families whose embedding covers the whole head
    (transformers ignores the factor there)."""
    from pytransformer.convert._common import hf_rope

    assert hf_rope({}, 16) == (10000.0, None)
    assert hf_rope({"partial_rotary_factor": 0.5, "rope_theta": 7.0}, 16) == (7.0, None)  # LLaMA
    assert hf_rope({}, 16, 0.25) == (10000.0, 4)  # StableLM's default
    assert hf_rope({"partial_rotary_factor": 0.4, "rope_theta": 1e4}, 20, 0.5) == (1e4, 8)
    assert hf_rope({"rope_parameters": {"partial_rotary_factor": 0.5, "rope_theta": 1e6}},
                   16, 1.0) == (1e6, 8)
    assert hf_rope({"partial_rotary_factor": 1.0}, 12, 1.0) == (10000.0, None)
    neox = dict(fraction_field="rotary_pct", base_field="rotary_emb_base")
    assert hf_rope({"rotary_pct": 0.5, "rotary_emb_base": 500}, 16, 0.25, **neox) == (500.0, 8)
    # GPTNeoXConfig reads neither of the other spellings.
    assert hf_rope({"partial_rotary_factor": 0.5, "rope_theta": 9.0}, 16, 0.25, **neox) == (
        10000.0, 4)
    with pytest.raises(ValueError, match="rope_parameters.rope_theta 0: expected a positive"):
        hf_rope({"rope_parameters": {"rope_theta": 0}}, 16)
