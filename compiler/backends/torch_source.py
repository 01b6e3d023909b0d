"""PyTorch as a target for Python source: the dtype spelling and the context each op's
`torch` rule gets, and `function_source`'s reading of symbolic dims (`x.shape[i]`,
which `torch.compile(dynamic=True)` keeps symbolic).
"""

from __future__ import annotations

from .python_source import SourceCtx, Target

TORCH_DTYPES = {"f16": "torch.float16", "bf16": "torch.bfloat16", "f32": "torch.float32",
                "f64": "torch.float64", "i8": "torch.int8", "i32": "torch.int32",
                "i64": "torch.int64", "u8": "torch.uint8", "bool": "torch.bool"}


class TorchCtx(SourceCtx):
    DTYPES = TORCH_DTYPES


TORCH = Target("torch", TorchCtx, ("torch", "np"), lambda arg, axis: f"{arg}.shape[{axis}]")
