"""TensorFlow as a target for Python source: the dtype spelling and the context each
op's `tf` rule gets, and `function_source`'s reading of symbolic dims (`tf.shape`, so
that a `tf.function(jit_compile=True)` serves every batch size without retracing).
"""

from __future__ import annotations

from .python_source import SourceCtx, Target

TF_DTYPES = {"f16": "tf.float16", "bf16": "tf.bfloat16", "f32": "tf.float32",
             "f64": "tf.float64", "i8": "tf.int8", "i32": "tf.int32", "i64": "tf.int64",
             "u8": "tf.uint8", "bool": "tf.bool"}


class TfCtx(SourceCtx):
    DTYPES = TF_DTYPES


TF = Target("tf", TfCtx, ("tf", "np"), lambda arg, axis: f"tf.shape({arg})[{axis}]")
