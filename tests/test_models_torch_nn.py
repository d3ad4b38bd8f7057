"""pytransformer.export_torch: torch.nn Transformers exported to our format, reloaded, and compared
with the same module run in PyTorch (fp32, within 1e-4 on unit-scale activations)."""

import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import pytransformer  # noqa: E402

D_MODEL, HEADS, FFN, VOCAB = 64, 4, 128, 50
ATOL = 1e-4

# PyTorch's own notices about its fast path, not about the code under test.
pytestmark = [pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")]


# ---------------------------------------------------------------------------------------------
# helpers

def randomize(module, seed=0):
    """Default inits leave norms at 1/0 and attention biases at 0, which would hide a mix-up of
    those tensors: give every norm and bias random values too. Eval mode, no dropout."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    return module.eval()


def embedding(vocab=VOCAB, d=D_MODEL, seed=1):
    torch.manual_seed(seed)
    emb = nn.Embedding(vocab, d)
    with torch.no_grad():
        emb.weight.normal_(0, d ** -0.5)  # the paper's init: unit scale after * sqrt(d)
    return emb


def sinusoidal(length, d):
    """The 2017 paper's table, written independently of pytransformer:
    PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d, 2, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, two_i / d)
    pe = torch.zeros(length, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


def embed(emb, ids, scale, positions):
    """Token embedding * scale + positions, [B, T, E] (batch-first)."""
    h = emb(ids) * scale
    if positions is not None:
        h = h + positions[: ids.shape[1]][None]
    return h


def ids_and_mask(batch, length, lengths, seed):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (batch, length), generator=gen)
    mask = torch.zeros(batch, length, dtype=torch.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
    ids = ids.masked_fill(mask == 0, 0)  # pad id 0 on the right
    return ids, mask


def bf(x, batch_first):
    """torch modules with batch_first=False take [T, B, E]."""
    return x if batch_first else x.transpose(0, 1)


def max_diff(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    diff = float(np.max(np.abs(np.asarray(ours) - theirs)))
    print(f"max abs diff vs torch: {diff:.3g}")  # shown with pytest -s
    return diff


def torch_seq2seq(model, src_emb, tgt_emb, head, src, src_mask, tgt, scale, src_pos, tgt_pos,
                  batch_first):
    T = tgt.shape[1]
    causal = nn.Transformer.generate_square_subsequent_mask(T)
    pad = src_mask == 0
    with torch.no_grad():
        out = model(bf(embed(src_emb, src, scale, src_pos), batch_first),
                    bf(embed(tgt_emb, tgt, scale, tgt_pos), batch_first),
                    tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
        return head(bf(out, batch_first))


# ---------------------------------------------------------------------------------------------
# nn.Transformer

@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_matches_torch(tmp_path, norm_first, activation):
    torch.manual_seed(0)
    model = randomize(nn.Transformer(D_MODEL, HEADS, 2, 2, FFN, dropout=0.0, activation=activation,
                                     batch_first=True, norm_first=norm_first))
    emb = embedding()
    scale = math.sqrt(D_MODEL)
    config = pytransformer.export_torch(model, tmp_path, embedding=emb, positions="sinusoidal",
                                        embedding_scale=scale, pad_token_id=0)
    assert config.kind == "encoder-decoder" and config.final_norm
    assert config.norm_position == ("pre" if norm_first else "post")

    src, src_mask = ids_and_mask(3, 7, [7, 4, 1], seed=2)
    tgt, _ = ids_and_mask(3, 5, [5, 5, 5], seed=3)
    pe = sinusoidal(64, D_MODEL)
    # tied output projection: logits = h @ embedding^T
    expected = torch_seq2seq(model, emb, emb, lambda h: h @ emb.weight.T, src, src_mask, tgt,
                             scale, pe, pe, batch_first=True)
    ours = pytransformer.load(tmp_path).forward(src.numpy(), tgt.numpy(),
                                                attention_mask=src_mask.numpy())
    assert ours.shape == (3, 5, VOCAB)
    assert max_diff(ours, expected) < ATOL


def test_transformer_separate_embeddings_learned_positions_linear_head(tmp_path):
    """batch_first=False; source and target embeddings and position tables differ; the output
    projection is an nn.Linear with a bias; 1 encoder + 3 decoder layers; other eps."""
    torch.manual_seed(0)
    model = randomize(nn.Transformer(D_MODEL, HEADS, 1, 3, FFN, dropout=0.0, activation=F.gelu,
                                     layer_norm_eps=1e-6, batch_first=False), seed=5)
    src_emb, tgt_emb = embedding(seed=1), embedding(seed=2)
    src_pos, tgt_pos = embedding(16, seed=3), embedding(16, seed=4)
    head = nn.Linear(D_MODEL, VOCAB)
    config = pytransformer.export_torch(
        model, tmp_path, embedding=src_emb, target_embedding=tgt_emb, positions="learned",
        position_table=src_pos, target_position_table=tgt_pos.weight.detach().numpy(),
        embedding_scale=1.0, output_projection=head)
    assert (config.num_layers, config.num_decoder_layers, config.max_positions) == (1, 3, 16)
    assert config.final_logits_bias and not config.tie_word_embeddings
    assert config.norm_eps == 1e-6

    src, src_mask = ids_and_mask(2, 9, [9, 3], seed=6)
    tgt, _ = ids_and_mask(2, 6, [6, 6], seed=7)
    expected = torch_seq2seq(model, src_emb, tgt_emb, head, src, src_mask, tgt, 1.0,
                             src_pos.weight, tgt_pos.weight, batch_first=False)
    ours = pytransformer.load(tmp_path).forward(src.numpy(), tgt.numpy(),
                                                attention_mask=src_mask.numpy())
    assert max_diff(ours, expected) < ATOL


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_transformer_without_biases(tmp_path, norm_first):
    torch.manual_seed(0)
    model = randomize(nn.Transformer(D_MODEL, HEADS, 2, 2, FFN, dropout=0.0, batch_first=True,
                                     norm_first=norm_first, bias=False))
    emb = embedding()
    scale = math.sqrt(D_MODEL)
    config = pytransformer.export_torch(model, tmp_path, embedding=emb, embedding_scale=scale,
                                        positions="none")
    assert not config.attention_bias and not config.ffn_bias
    src, src_mask = ids_and_mask(2, 6, [6, 2], seed=8)
    tgt, _ = ids_and_mask(2, 4, [4, 4], seed=9)
    expected = torch_seq2seq(model, emb, emb, lambda h: h @ emb.weight.T, src, src_mask, tgt,
                             scale, None, None, batch_first=True)
    ours = pytransformer.load(tmp_path).forward(src.numpy(), tgt.numpy(),
                                                attention_mask=src_mask.numpy())
    assert max_diff(ours, expected) < ATOL


def test_decoder_with_encoder_argument(tmp_path):
    """nn.TransformerDecoder + encoder= is the same model as nn.Transformer built from them."""
    torch.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, HEADS, FFN, 0.0,
                                                           batch_first=True, norm_first=True),
                                2, norm=nn.LayerNorm(D_MODEL), enable_nested_tensor=False)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D_MODEL, HEADS, FFN, 0.0,
                                                           batch_first=True, norm_first=True),
                                1, norm=nn.LayerNorm(D_MODEL))
    randomize(enc, seed=1), randomize(dec, seed=2)
    emb = embedding()
    config = pytransformer.export_torch(dec, tmp_path, encoder=enc, embedding=emb,
                                        embedding_scale=8.0)
    assert config.kind == "encoder-decoder" and config.num_decoder_layers == 1
    src, src_mask = ids_and_mask(2, 6, [6, 3], seed=3)
    tgt, _ = ids_and_mask(2, 4, [4, 4], seed=4)
    pe = sinusoidal(16, D_MODEL)
    with torch.no_grad():
        memory = enc(embed(emb, src, 8.0, pe), src_key_padding_mask=src_mask == 0)
        out = dec(embed(emb, tgt, 8.0, pe), memory,
                  tgt_mask=nn.Transformer.generate_square_subsequent_mask(4),
                  memory_key_padding_mask=src_mask == 0)
        expected = out @ emb.weight.T
    ours = pytransformer.load(tmp_path).forward(src.numpy(), tgt.numpy(),
                                                attention_mask=src_mask.numpy())
    assert max_diff(ours, expected) < ATOL


# ---------------------------------------------------------------------------------------------
# nn.TransformerEncoder

@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
@pytest.mark.parametrize("final_norm", [False, True], ids=["no_norm", "norm"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "seq_first"])
def test_encoder_matches_torch(tmp_path, norm_first, final_norm, batch_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FFN, 0.0, activation="gelu",
                                       batch_first=batch_first, norm_first=norm_first)
    model = randomize(nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D_MODEL) if final_norm
                                            else None))
    emb = embedding()
    config = pytransformer.export_torch(model, tmp_path, embedding=emb, embedding_scale=8.0,
                                        max_positions=32)
    assert config.kind == "encoder" and config.final_norm == final_norm
    ids, mask = ids_and_mask(3, 8, [8, 5, 2], seed=2)
    with torch.no_grad():
        expected = bf(model(bf(embed(emb, ids, 8.0, sinusoidal(32, D_MODEL)), batch_first),
                            src_key_padding_mask=mask == 0), batch_first)
    ours = pytransformer.load(tmp_path).encode(ids.numpy(), mask.numpy())
    assert ours.shape == (3, 8, D_MODEL)
    # In eval mode PyTorch's fast path runs batch-first encoders on nested tensors and returns
    # zeros at padded positions; ours computes them (never attended to). Compare real tokens only.
    real = mask.numpy().astype(bool)
    assert max_diff(ours[real], expected.numpy()[real]) < ATOL


def test_encoder_exported_causal_is_a_decoder_only_lm(tmp_path):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FFN, 0.0, batch_first=True, norm_first=True)
    model = randomize(nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D_MODEL),
                                            enable_nested_tensor=False))
    emb = embedding()
    head = nn.Linear(D_MODEL, VOCAB, bias=False)
    config = pytransformer.export_torch(model, tmp_path, embedding=emb, causal=True,
                                        positions="learned", position_table=embedding(20, seed=3),
                                        output_projection=head)
    assert config.kind == "decoder" and config.max_positions == 20
    ids, _ = ids_and_mask(2, 7, [7, 7], seed=4)
    with torch.no_grad():
        h = model(embed(emb, ids, 1.0, embedding(20, seed=3).weight),
                  mask=nn.Transformer.generate_square_subsequent_mask(7), is_causal=True)
        expected = head(h)
    ours = pytransformer.load(tmp_path).forward(ids.numpy())
    assert max_diff(ours, expected) < ATOL


@pytest.mark.parametrize("activation", [F.relu, torch.relu, nn.ReLU(), nn.GELU(),
                                        nn.GELU(approximate="tanh")],
                         ids=["F.relu", "torch.relu", "nn.ReLU", "nn.GELU", "nn.GELU_tanh"])
def test_encoder_activation_callables(tmp_path, activation):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FFN, 0.0, activation=activation,
                                       batch_first=True)
    model = randomize(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False))
    emb = embedding()
    pytransformer.export_torch(model, tmp_path, embedding=emb.weight.detach().numpy(),
                               positions="none")
    ids, _ = ids_and_mask(2, 5, [5, 5], seed=2)
    # The reference runs PyTorch's slow (training-mode) path, dropout being 0: its eval fast path
    # treats every nn.GELU as exact gelu, ignoring approximate="tanh" (torch 2.13 sets
    # activation_relu_or_gelu = 2 for any nn.GELU), and so differs from the module's own
    # training-mode output by ~1e-4. We export what the module declares.
    with torch.no_grad():
        expected = model.train()(emb(ids))
    assert max_diff(pytransformer.load(tmp_path).encode(ids.numpy()), expected) < ATOL


# ---------------------------------------------------------------------------------------------
# errors and packaging

def tiny_encoder(**layer_args):
    layer = nn.TransformerEncoderLayer(16, 2, 32, 0.0, batch_first=True, **layer_args)
    return nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)


def test_unsupported_module_type(tmp_path):
    with pytest.raises(TypeError, match="Linear.*supported: nn.Transformer"):
        pytransformer.export_torch(nn.Linear(4, 4), tmp_path, embedding=np.zeros((5, 4)))
    with pytest.raises(TypeError, match="TransformerDecoderLayer"):
        pytransformer.export_torch(nn.TransformerEncoder(nn.TransformerDecoderLayer(16, 2), 1),
                                   tmp_path, embedding=np.zeros((5, 16)))


@pytest.mark.parametrize("activation", [F.silu, nn.Tanh(), lambda x: x, F.elu])
def test_unsupported_activation(tmp_path, activation):
    with pytest.raises(ValueError, match="activation.*supported: relu, gelu"):
        pytransformer.export_torch(tiny_encoder(activation=activation), tmp_path,
                                   embedding=np.zeros((5, 16)))


def test_other_rejections(tmp_path):
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 2, 32, 0.0), 1)
    with pytest.raises(ValueError, match="encoder="):
        pytransformer.export_torch(dec, tmp_path, embedding=np.zeros((5, 16)))
    # the encoder has a final norm, the decoder none: one final_norm flag cannot say that
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, 0.0), 1, norm=nn.LayerNorm(16),
                                enable_nested_tensor=False)
    with pytest.raises(ValueError, match="final norm"):
        pytransformer.export_torch(dec, tmp_path, encoder=enc, embedding=np.zeros((5, 16)))
    with pytest.raises(ValueError, match="positions"):
        pytransformer.export_torch(tiny_encoder(), tmp_path, embedding=np.zeros((5, 16)),
                                   positions="rotary")
    with pytest.raises(ValueError, match="position_table"):
        pytransformer.export_torch(tiny_encoder(), tmp_path, embedding=np.zeros((5, 16)),
                                   positions="learned")
    with pytest.raises(ValueError, match=r"embedding: expected shape \[N, 16\]"):
        pytransformer.export_torch(tiny_encoder(), tmp_path, embedding=np.zeros((5, 8)))
    with pytest.raises(ValueError, match="output_projection"):
        pytransformer.export_torch(tiny_encoder(), tmp_path, embedding=np.zeros((5, 16)),
                                   output_projection=np.zeros((5, 16)))


def test_import_does_not_need_torch():
    code = "import sys, pytransformer; pytransformer.export_torch; assert 'torch' not in sys.modules"
    root = pathlib.Path(__file__).resolve().parents[1]  # the in-tree package, as pytest sees it
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
