"""Build the toy CLIP and its tokenizer from the files shipped beside this module."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "toyclip.json"
WEIGHTS = HERE / "toyclip.safetensors"
BPE = HERE / "bpe_toyclip_8k.txt.gz"  # the first 8,000 merges of open_clip's BPE file
CONTEXT_LENGTH = 16
IMAGE_SIZE = 32


def build_model(pretrained: str | None = None, device: str = "cpu"):
    """A plain open_clip CLIP from ``toyclip.json``, through open_clip's own factory."""
    import open_clip

    if "toyclip" not in open_clip.list_models():
        open_clip.add_model_config(CONFIG)
    return open_clip.create_model("toyclip", pretrained=pretrained, device=device)


def build_tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(str(BPE), context_length=CONTEXT_LENGTH)


def build_preprocess():
    import open_clip

    return open_clip.image_transform(IMAGE_SIZE, is_train=False)
