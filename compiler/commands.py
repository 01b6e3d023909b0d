"""What each `dslc` command does, once the driver has parsed the command line.

Reads the `.nn` file, runs the pipeline, prints diagnostics or the requested stage,
writes artifacts, and runs training through the runtime (saving and resuming its
checkpoints).
"""

from __future__ import annotations

import os
import sys

from .. import __version__
from ..dsl import Diagnostic, dump, explain, render_all
from ..dsl.encoding import decode_source
from .outputs import cannot_write, output_refusal, refuse_output
from ..dsl.diagnostics import supports_color, visible

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE = 0, 1, 2
EMIT_STAGES = ("ast", "ir", "stablehlo", "summary", "tf", "torch")
# Stages that are a whole Python module: `-o` names the file to write.
PYTHON_TARGETS = ("tf", "torch")


def run_command(session) -> int:
    handler = {"compile": compile_command, "train": train_command,
               "check": check_command, "explain": explain_command,
               "verify": verify_command, "plot": plot_command}[session.args.command]
    return handler(session)


def read(path: str):
    """The file's text, or why it cannot be had: a message, or E0006 at the first byte
    that is not UTF-8."""
    if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
        return None, f"{path} is not a regular file"
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None, f"no such file: {path}"
    except IsADirectoryError:
        return None, f"{path} is a directory, not a .nn file"
    except OSError as error:
        return None, f"cannot read {path}: {error.strerror}"
    return decode_source(path, data)


def print_diagnostics(session, diagnostics) -> None:
    """Writes diagnostics to stderr, coloured (source lines by the session's highlighter)
    when it is a terminal that wants colour."""
    print(render_all(diagnostics, color=supports_color(sys.stderr),
                     highlight=session.highlight), file=sys.stderr)


def usage_error(message: str) -> int:
    print(f"dslc: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def compile_file(session, path: str):
    """The Compilation of `path`, or an exit code when it could not be compiled."""
    from .pipeline import compile_text

    text, problem = read(path)
    if isinstance(problem, Diagnostic):
        print_diagnostics(session, [problem])
        return EXIT_DIAGNOSTICS
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    stage = getattr(session.args, "emit", None) or ""
    after_stage = stage.split("=", 1)[1] if stage.startswith("ir-after=") else None
    print_loc = getattr(session.args, "print_loc", False)

    def after(name, module):
        session.remember(name, module)
        if name == after_stage:
            from .ir_text import print_module

            print(print_module(module, print_loc), end="")

    compilation = compile_text(text, path, after)
    if compilation.diagnostics:
        print_diagnostics(session, compilation.diagnostics)
        return EXIT_DIAGNOSTICS
    return compilation


def check_emit(stage: str | None) -> str | None:
    from .pipeline import STAGES

    if stage is None or stage in EMIT_STAGES:
        return None
    if stage.startswith("ir-after="):
        name = stage.split("=", 1)[1]
        return None if name in STAGES else (
            f"unknown stage `{name}` in --emit; stages are {', '.join(STAGES)}")
    return f"unknown --emit `{stage}`; use one of {', '.join(EMIT_STAGES)}, ir-after=STAGE"


def emit(session, compilation) -> int:
    """Prints the stage asked for by `--emit` (ir-after was printed during the run)."""
    stage = session.args.emit
    if stage == "ast":
        print(dump(compilation.ast))
    elif stage == "ir":
        from .ir_text import print_module

        print(print_module(compilation.module, session.args.print_loc), end="")
    elif stage == "stablehlo":
        from .backends.stablehlo import stablehlo_text

        target = getattr(session.args, "target", "cpu")
        for function in compilation.module:
            print(f"// ---- {function.name}: {function.signature()}")
            print(stablehlo_text(function, target))
    elif stage == "summary":
        from .summary import summary

        print(summary(compilation.module))
    elif stage in PYTHON_TARGETS:
        print(python_module(session, compilation), end="")
    return EXIT_OK


def python_module(session, compilation) -> str:
    from .backends.python_module import emit_module

    return emit_module(compilation.module, session.args.emit, session.args.file,
                       compilation.text, __version__)


def save_folder(option: str | None, compilation) -> str | None:
    """Where `dslc train` saves: `--save`, else the train block's `checkpoint` (relative
    to the `.nn` file's folder), else nowhere."""
    if option:
        return option
    setting = compilation.train.checkpoint if compilation.train else None
    return setting and os.path.join(os.path.dirname(compilation.path) or ".", setting)


def save_refusal(path: str, compilation) -> str | None:
    """Why `--save` cannot write the folder `path` (checked before training starts)."""
    from ..runtime.checkpoint import is_checkpoint

    if os.path.isdir(path) and os.listdir(path) and not is_checkpoint(path):
        return "it is a folder that is not a dslc checkpoint"
    if problem := output_refusal(path, compilation, folder=True, force=True):
        return problem
    parent = os.path.dirname(os.path.abspath(path))
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"its folder {visible(parent)} is not writable"
    return None


def read_checkpoint(option: str, directory: str, program):
    """The checkpoint in `directory` (named by `option`), warning on stderr when the
    program's text changed since; or None after printing why it cannot be read."""
    from ..runtime.checkpoint import CheckpointError, load
    from .training import source_mismatch

    try:
        checkpoint = load(directory)
    except CheckpointError as error:
        print(f"error: {option} {visible(directory)}: {error}", file=sys.stderr)
        return None
    if warning := source_mismatch(program, checkpoint):
        print(f"warning: {warning}", file=sys.stderr)
    return checkpoint


def emit_python(session, compilation) -> int:
    """`--emit tf|torch`: the module on stdout, or written (atomically) to `-o FILE`."""
    output = session.args.output
    if not output:
        return emit(session, compilation)
    if problem := output_refusal(output, compilation, folder=False):
        return refuse_output("-o", output, problem)
    from ..runtime.files import write_atomically

    source = python_module(session, compilation)
    try:
        write_atomically(output, source.encode("utf-8"))
    except OSError as error:
        print(f"error: cannot write {output}: {error.strerror or error}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    print(f"wrote {output} ({session.args.emit})")
    return EXIT_OK


def compile_with_emit(session):
    """Checks `--emit`, then compiles the command's file: the Compilation, or an exit
    code when either failed."""
    if problem := check_emit(session.args.emit):
        return usage_error(problem)
    return compile_file(session, session.args.file)


def compile_command(session) -> int:
    args = session.args
    compilation = compile_with_emit(session)
    if isinstance(compilation, int):
        return compilation
    if args.emit in PYTHON_TARGETS:
        return emit_python(session, compilation)
    if args.emit and not args.output:
        return emit(session, compilation)
    from ..runtime.artifact import write_artifact
    from .backends.stablehlo import artifact

    stem = os.path.splitext(os.path.basename(args.file))[0]
    output = args.output or f"{stem}.{args.target}"
    if problem := output_refusal(output, compilation, folder=True, force=args.force):
        return refuse_output("-o", output, problem)
    if args.emit:
        emit(session, compilation)
    if args.mesh and (diagnostic := mesh_problem(compilation.module, args.mesh)):
        print_diagnostics(session, [diagnostic])
        return EXIT_DIAGNOSTICS
    manifest, blobs = artifact(compilation.module, args.target, args.file, compilation.text,
                               __version__, args.mesh)
    try:
        write_artifact(output, manifest, blobs)
    except OSError as error:
        print(f"error: cannot write {visible(output)}: {error.strerror or error}",
              file=sys.stderr)
        return EXIT_DIAGNOSTICS
    names = ", ".join(manifest["functions"])
    print(f"wrote {output}/ for {args.target} ({manifest['platforms'][0]}): {names}",
          file=sys.stderr if args.emit else sys.stdout)
    return EXIT_OK


def mesh_problem(module, mesh):
    """E0304 at a value's declaration when `--mesh` splits one of its dims unevenly."""
    from ..dsl import Diagnostic
    from .backends.stablehlo import indivisible

    found = indivisible(module, mesh)
    if found is None:
        return None
    arg, index, axis, size = found
    return Diagnostic("E0304", f"dim {index} of `{arg.name}` ({arg.type}) does not split over "
                      f"the {size} devices of the mesh's `{axis}` axis", arg.loc.span,
                      f"split over `{axis}`",
                      help=f"use a `--mesh` whose `{axis}` size divides {arg.type.shape[index]}")


def check_command(session) -> int:
    status = EXIT_OK
    for path in session.args.files:
        result = compile_file(session, path)
        if isinstance(result, int):
            status = EXIT_DIAGNOSTICS
        else:
            print(f"{path}: ok")
    return status


def explain_command(session) -> int:
    code = session.args.code.upper()
    if not code.startswith("E"):
        code = "E" + code
    text = explain(code)
    if text is None:
        from ..dsl import CODES

        return usage_error(f"no error code {session.args.code}; codes are "
                           f"{', '.join(sorted(CODES))}")
    print(text)
    return EXIT_OK


def train_command(session) -> int:
    args = session.args
    from . import processes

    distributed = processes.wanted(args)
    if distributed and (problem := processes.join(args)):
        return usage_error(problem)
    compilation = compile_with_emit(session)
    if isinstance(compilation, int):
        return compilation
    if args.emit:
        emit(session, compilation)
    if compilation.train is None:
        print(f"error: {args.file} has no `train` block", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    if args.history and (problem := output_refusal(args.history, compilation, folder=False)):
        return refuse_output("--history", args.history, problem)
    if args.plot and (status := plot_refusal(args.plot, compilation)) is not None:
        return status
    from ..runtime.progress import keras_logs
    from .api import Program
    from ..runtime.checkpoint import CheckpointError
    from .training import TrainError, final_metrics, nonfinite_loss, run_training

    program = Program(compilation)
    save = save_folder(args.save, compilation)
    if args.save_every and not save:
        return usage_error("--save-every needs --save DIR (or `checkpoint` in the train block)")
    if save and (problem := save_refusal(save, compilation)):
        return refuse_output("--save", save, problem)
    resume = read_checkpoint("--resume", args.resume, program) if args.resume else None
    if args.resume and resume is None:
        return EXIT_DIAGNOSTICS
    overrides = {k: v for k, v in (("steps", args.steps), ("epochs", args.epochs),
                                   ("batch_size", args.batch_size),
                                   ("devices", args.devices), ("mesh", args.mesh))
                 if v is not None}
    from ..runtime.mesh import writes_files

    writer = writes_files()
    try:
        result = run_training(program, verbose=args.verbose if writer else 0, save=save,
                              save_every=args.save_every, resume=resume, **overrides)
        final = final_metrics(program, result.params)
    except TrainError as error:
        print_diagnostics(session, error.diagnostics)
        return EXIT_DIAGNOSTICS
    except BrokenPipeError:
        raise  # the reader of the log stopped reading: `driver.main` ends quietly
    except (CheckpointError, OSError) as error:
        print(f"error: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    except (RuntimeError, ValueError) as error:
        if distributed and processes.is_peer_failure(error):
            return processes.peer_failed(error)
        raise
    if not writer:
        return EXIT_OK
    print("final:" + keras_logs(final).replace(" -", "", 1))
    if args.history:
        try:
            result.history.to_json(args.history)
        except OSError as error:
            print(f"error: cannot write the history to {visible(args.history)}: "
                  f"{error.strerror or error}", file=sys.stderr)
            return EXIT_DIAGNOSTICS
        print(f"wrote history to {args.history}")
    if save:
        print(f"saved the checkpoint in {visible(save)} (step {result.checkpoint.info['step']})")
    if args.plot and (status := plot_training(program, result, args.plot)) is not None:
        return status
    if diagnostic := nonfinite_loss(program, result):
        print_diagnostics(session, [diagnostic])
        return EXIT_DIAGNOSTICS
    return EXIT_OK


def plot_refusal(path: str, compilation=None, inputs: tuple[str, ...] = ()) -> int | None:
    """Exit 1 with one line when a plot cannot be made: matplotlib is missing, or the
    image (or, after training, the decision boundary's beside it) cannot be written."""
    from .plots import PlotUnavailable, boundary_path, require_matplotlib

    try:
        require_matplotlib()
    except PlotUnavailable as error:
        print(f"dslc: error: {error}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    targets = (path,) if compilation is None else (path, boundary_path(path))
    for target in targets:
        if problem := output_refusal(target, compilation, folder=False, inputs=inputs):
            return refuse_output("--plot" if compilation else "-o", target, problem)
    return None


def plot_training(program, result, path: str) -> int | None:
    """`--plot`: the run's curves, and a 2-D classifier's decision boundary beside them."""
    from .plots import write_training_plots
    from .training import load_data

    try:
        written = write_training_plots(program, result, load_data(program), path)
    except OSError as error:
        return cannot_write(path, error)
    print("".join(f"wrote {written_path}\n" for written_path in written), end="")
    return None


def plot_command(session) -> int:
    """`dslc plot HISTORY`: the curves of a `--history` file as a PNG image."""
    import json

    args = session.args
    output = args.output or os.path.splitext(args.history)[0] + ".png"
    if (status := plot_refusal(output, inputs=(args.history,))) is not None:
        return status
    try:
        with open(args.history, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        print(f"dslc: error: cannot read {visible(args.history)} as a history: "
              f"{getattr(error, 'strerror', None) or error}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    from .plots import curves_figure, png_bytes
    from ..runtime.files import write_atomically

    try:
        figure = curves_figure(document)
    except (ValueError, TypeError, AttributeError) as error:
        print(f"dslc: error: {visible(args.history)} is not a dslc history: {error}",
              file=sys.stderr)
        return EXIT_DIAGNOSTICS
    try:
        write_atomically(output, png_bytes(figure))
    except OSError as error:
        return cannot_write(output, error)
    print(f"wrote {output}")
    return EXIT_OK


def verify_command(session) -> int:
    """`dslc verify`: the three backends' loss per step side by side, the largest
    relative deviation of anything a step returns, and on disagreement the first IR
    node that differs."""
    args = session.args
    compilation = compile_file(session, args.file)
    if isinstance(compilation, int):
        return compilation
    if compilation.train is None:
        print(f"error: {args.file} has no `train` block to verify", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    from .agreement import BACKENDS, RTOL, verify
    from .api import Program
    from .training import TrainError

    print(f"{'step':>5}  " + "  ".join(f"{'loss (' + b + ')':>14}" for b in BACKENDS)
          + "  max rel. deviation")
    try:
        result = verify(Program(compilation), args.steps, torch_backend=args.torch_backend)
    except TrainError as error:
        print_diagnostics(session, error.diagnostics)
        return EXIT_DIAGNOSTICS
    worst = max((s.deviation for s in result.steps), default=0.0)
    if result.ok:
        print(f"agree: {len(result.steps)} steps, largest relative deviation {worst:.2e} "
              f"(tolerance {RTOL:.0e})")
        return EXIT_OK
    print(f"disagree at step {result.failed_step}: relative deviation "
          f"{result.steps[-1].deviation:.2e} > {RTOL:.0e}")
    culprit = result.culprit
    if culprit is not None:
        line = culprit.loc.span.source.line_text(culprit.loc.line).strip() \
            if culprit.loc.span is not None else ""
        print(f"first differing node: `{culprit.op}` on {culprit.backend} "
              f"(deviation {culprit.deviation:.2e}) at {culprit.loc}")
        if line:
            print(f"    {visible(line)}")
    return EXIT_DIAGNOSTICS
