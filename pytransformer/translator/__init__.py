"""The trained translator that ships with pytransformer: English numbers in words -> digits.

    >>> import pytransformer
    >>> from pytransformer.translator import MODEL_DIR
    >>> model = pytransformer.load(MODEL_DIR)     # a 2017-style encoder-decoder, ~0.24 M params

:data:`MODEL_DIR` holds config.json + model.safetensors (our format), tokenizer.json (the
``tokenizers`` library) and generation_config.json (decoder_start_token_id, eos_token_id,
pad_token_id, max_length): everything ``pytransformer translate`` needs, as its default model.
:mod:`.task` defines the task and its held-out split; :mod:`.train` (needs torch) made the
folder. See README.md here for how it was trained and how well it does.
"""

import pathlib

MODEL_DIR = pathlib.Path(__file__).resolve().parent / "model"

__all__ = ["MODEL_DIR"]
