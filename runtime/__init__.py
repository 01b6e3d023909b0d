"""dslc's runtime: runs compiled programs; knows nothing of the `.nn` syntax.

`data` (data sources, `Dataset`, batching), `training` (`fit`, `History`, evaluate
and predict in batches), `mesh` (device meshes, several processes, `writes_files`)
and `artifact` (load and run, or write, exported artifacts). It imports only JAX, NumPy and the standard library.
"""

from .artifact import Artifact, ArtifactError, load, platform_ok, write_artifact
from .data import DATA_SOURCES, DataError, DataSource, Dataset, batches_for_epoch
from .training import EarlyStopping, FitResult, History, evaluate_dataset, fit, predict_batches

__all__ = [
    "Artifact",
    "ArtifactError",
    "DATA_SOURCES",
    "DataError",
    "DataSource",
    "Dataset",
    "EarlyStopping",
    "FitResult",
    "History",
    "batches_for_epoch",
    "evaluate_dataset",
    "fit",
    "load",
    "platform_ok",
    "predict_batches",
    "write_artifact",
]
