"""Writes the GGUF files of the test Hub's GGUF repos (tests/hub/fixtures.rs) with llama.cpp's own gguf
package: tiny, but valid models, each quant's tensors in its type where the package can quantize to it.

    python tests/python/make_gguf.py tests/hub/fixtures/gguf

The files are committed; the sandbox test writes them again and requires the same bytes.
"""

import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFType, GGUFWriter, LlamaFileType
from gguf.quants import quantize

Q = GGMLQuantizationType


def values(n: int, seed: int) -> np.ndarray:
    """`n` float32s that depend only on `seed`."""
    return np.sin(np.arange(n, dtype=np.float32) * 0.37 + seed).astype(np.float32)


def model(path: Path, file_type: LlamaFileType, tensor_type: GGMLQuantizationType, tensors: int, size: int, split: bool = False):
    """A llama of `tensors` tensors of `size` values each, in `tensor_type`; one shard per tensor if `split`."""
    writer = GGUFWriter(path, "llama", split_max_tensors=1 if split else 0)
    writer.add_type(GGUFType.MODEL)
    writer.add_name("tiny")
    writer.add_file_type(file_type)
    writer.add_context_length(64)
    writer.add_block_count(tensors)
    for i in range(tensors):
        data = values(size, i)
        if tensor_type == Q.F32:
            writer.add_tensor(f"blk.{i}.attn_q.weight", data)
        else:
            writer.add_tensor(f"blk.{i}.attn_q.weight", quantize(data.reshape(1, size), tensor_type), raw_dtype=tensor_type)
    write(writer)


def mmproj(path: Path, file_type: LlamaFileType, tensor_type: GGMLQuantizationType):
    """A multimodal projector, as llama.cpp's converter marks one."""
    writer = GGUFWriter(path, "clip")
    writer.add_type(GGUFType.MMPROJ)
    writer.add_name("tiny")
    writer.add_file_type(file_type)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_tensor("mm.0.weight", quantize(values(64, 9).reshape(1, 64), tensor_type), raw_dtype=tensor_type)
    write(writer)


def write(writer: GGUFWriter):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(out: Path):
    tiny = out / "tiny-gguf"
    (tiny / "Q4_K_M").mkdir(parents=True, exist_ok=True)
    # IQ2_XS and Q4_K_M cannot be quantized to in Python: their tensors stay F32.
    model(tiny / "tiny-IQ2_XS.gguf", LlamaFileType.MOSTLY_IQ2_XS, Q.F32, 1, 64)
    model(tiny / "Q4_K_M" / "tiny-Q4_K_M.gguf", LlamaFileType.MOSTLY_Q4_K_M, Q.F32, 3, 96, split=True)
    model(tiny / "tiny-Q8_0.gguf", LlamaFileType.MOSTLY_Q8_0, Q.Q8_0, 2, 512)
    mmproj(tiny / "mmproj-BF16.gguf", LlamaFileType.MOSTLY_BF16, Q.BF16)
    mmproj(tiny / "mmproj-F16.gguf", LlamaFileType.MOSTLY_F16, Q.F16)
    one = out / "one-gguf"
    one.mkdir(parents=True, exist_ok=True)
    model(one / "one-Q8_0.gguf", LlamaFileType.MOSTLY_Q8_0, Q.Q8_0, 1, 256)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
