"""One-off preparation of the peer engines' models, run as a script in its own process.

``python prepare.py KIND SOURCE OUT`` writes ``OUT`` (a folder) atomically: it builds into a
temporary sibling folder and renames it into place, so a crashed or concurrent run never leaves
a half-written model behind. Kinds:

  gpt2-random   SOURCE is the torch seed: a randomly initialised GPT2LMHeadModel(GPT2Config())
                (GPT-2 small: 12 layers, 768 wide, 12 heads, vocabulary 50257, 1024
                positions), saved with save_pretrained (safetensors)
  onnx-bert     SOURCE is a BERT folder: transformers BertModel exported with torch.onnx.export
                (dynamic batch and sequence axes, fp32) to model.onnx, then
                onnxruntime.transformers.optimizer (model_type "bert", fp32) to
                model-optimized.onnx, the "bert-optimized" graph
  onnx-int8     SOURCE is an fp32 .onnx file: onnxruntime.quantization.quantize_dynamic
                (int8 weights per output channel, dynamic activation scales) to
                model-int8.onnx
  ct2           SOURCE is a Hugging Face folder: ctranslate2's TransformersConverter,
                float32 weights

These need torch and transformers (and onnx / onnxruntime / ctranslate2 for their kind), which
is why they run here, in a throwaway process, and not in a benchmark worker: the ONNX Runtime
and CTranslate2 workers never import torch. The benchmark workers call ``ensure`` (in
``peers.py``), which runs this script only when the cached folder is missing.

Standard library only at the top; no import of the pytransformer package.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path


def gpt2_random(seed: str, out: Path) -> None:
    import torch
    import transformers

    torch.manual_seed(int(seed))
    config = transformers.GPT2Config()  # the defaults are GPT-2 small
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(out, safe_serialization=True)
    # A word-level tokenizer whose token "t<id>" is id: random weights have no real vocabulary,
    # and CTranslate2's converter reads one (and the BOS/EOS/UNK tokens, GPT-2's id 50256).
    from tokenizers import Tokenizer, models, pre_tokenizers

    end = f"t{config.eos_token_id}"
    tokenizer = Tokenizer(models.WordLevel({f"t{i}": i for i in range(config.vocab_size)},
                                           unk_token=end))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=end, eos_token=end,
                                         unk_token=end).save_pretrained(out)


def onnx_bert(source: str, out: Path) -> None:
    import torch
    import transformers
    from onnxruntime.transformers import optimizer

    # Eager attention: the MatMul/Softmax pattern the optimizer's attention fusion recognises.
    bert = transformers.BertModel.from_pretrained(source, add_pooling_layer=False,
                                                  attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):  # keyword arguments: forward's order may change
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = LastHiddenState().eval()
    ids = torch.randint(1000, 2000, (2, 16), dtype=torch.int64)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    axes = {0: "batch", 1: "sequence"}
    raw = out / "model.onnx"
    with torch.inference_mode():
        torch.onnx.export(model, (ids, mask, types), str(raw),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "token_type_ids": axes, "last_hidden_state": axes},
                          opset_version=17, do_constant_folding=True, dynamo=False)
    config = bert.config
    optimized = optimizer.optimize_model(str(raw), model_type="bert",
                                         num_heads=config.num_attention_heads,
                                         hidden_size=config.hidden_size, opt_level=None,
                                         use_gpu=False, only_onnxruntime=False)
    optimized.save_model_to_file(str(out / "model-optimized.onnx"))
    (out / "fusions.txt").write_text(repr(optimized.get_fused_operator_statistics()) + "\n")


def onnx_int8(source: str, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Symmetric int8 weights, one scale per output channel (what ours and CTranslate2 do);
    # activations quantized per tensor at run time, ORT's dynamic scheme. The optimized graph's
    # fused operators (com.microsoft Attention, SkipLayerNormalization...) defeat ONNX shape
    # inference, so the tensors it cannot type are declared float32.
    quantize_dynamic(source, str(out / "model-int8.onnx"), per_channel=True,
                     weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def ct2(source: str, out: Path) -> None:
    import ctranslate2

    # The converter refuses an existing output folder unless force=True: out is our fresh one.
    ctranslate2.converters.TransformersConverter(source).convert(str(out), quantization="float32",
                                                                 force=True)


KINDS = {"gpt2-random": gpt2_random, "onnx-bert": onnx_bert, "onnx-int8": onnx_int8, "ct2": ct2}


def main(argv=None) -> None:
    kind, source, out = (argv if argv is not None else sys.argv[1:])
    out = Path(out)
    if out.is_dir():
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        KINDS[kind](source, tmp)
        (tmp / "DONE").write_text(f"{kind} {source}\n")
        try:
            tmp.rename(out)
        except OSError:  # another process got there first: keep its folder
            if not (out / "DONE").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
