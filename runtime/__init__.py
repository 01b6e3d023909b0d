"""dslc's runtime: runs compiled programs; knows nothing of the `.nn` syntax.

`data` (data sources, `Dataset`, batching), `training` (`fit`, `History`, evaluate
and predict in batches), `callbacks` (EarlyStopping, ModelCheckpoint, TerminateOnNaN),
`checkpoint` (a run's state in safetensors, saved and loaded), `mesh` (device meshes,
several processes, `writes_files`) and `artifact` (load and run, or write, exported
artifacts). It imports only JAX, NumPy and the standard library.
"""

from .artifact import Artifact, ArtifactError, load, platform_ok, write_artifact
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, TerminateOnNaN
from .checkpoint import Checkpoint, CheckpointError
from .data import DATA_SOURCES, DataError, DataSource, Dataset, batches_for_epoch
from .training import FitResult, History, evaluate_dataset, fit, predict_batches

__all__ = [
    "Artifact",
    "ArtifactError",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "DATA_SOURCES",
    "DataError",
    "DataSource",
    "Dataset",
    "EarlyStopping",
    "FitResult",
    "History",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "batches_for_epoch",
    "evaluate_dataset",
    "fit",
    "load",
    "platform_ok",
    "predict_batches",
    "write_artifact",
]
