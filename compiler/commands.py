"""What each `dslc` command does, once the driver has parsed the command line.

Reads the `.nn` file, runs the pipeline, prints diagnostics or the requested stage,
writes artifacts, and runs training through the runtime.
"""

from __future__ import annotations

import os
import sys

from .. import __version__
from ..dsl import dump, explain, render_all
from ..dsl.diagnostics import supports_color, visible

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE = 0, 1, 2
EMIT_STAGES = ("ast", "ir", "stablehlo", "summary", "tf", "torch")
# Stages that are a whole Python module: `-o` names the file to write.
PYTHON_TARGETS = ("tf", "torch")


def run_command(session) -> int:
    handler = {"compile": compile_command, "train": train_command,
               "check": check_command, "explain": explain_command,
               "verify": verify_command}[session.args.command]
    return handler(session)


def read(path: str) -> tuple[str | None, str | None]:
    """The file's text, or an error message."""
    if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
        return None, f"{path} is not a regular file"
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read(), None
    except FileNotFoundError:
        return None, f"no such file: {path}"
    except IsADirectoryError:
        return None, f"{path} is a directory, not a .nn file"
    except UnicodeDecodeError as error:
        return None, f"{path} is not UTF-8 text ({error.reason} at byte {error.start})"
    except OSError as error:
        return None, f"cannot read {path}: {error.strerror}"


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


def output_refusal(path: str, compilation, *, folder: bool, force: bool = False) -> str | None:
    """Why dslc will not write `path`, or None: it is an input of this run, a link, a
    folder where a file goes (or the reverse), a folder that is not a dslc artifact
    (unless `force`), or in a folder that does not exist."""
    from ..runtime.artifact import is_artifact

    if os.path.islink(path):
        return "it is a symbolic link"
    inputs = [compilation.path, *compilation.imported]
    if os.path.exists(path) and any(
            os.path.exists(i) and os.path.samefile(path, i) for i in inputs):
        return "it is an input of this run"
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return "its folder does not exist"
    if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        return "it is not a regular file (a device, pipe or socket)"
    if folder and os.path.exists(path) and not os.path.isdir(path):
        return "it exists and is not a folder"
    if not folder and os.path.isdir(path):
        return "it is a folder"
    if folder and os.path.isdir(path) and os.listdir(path) and not is_artifact(path) \
            and not force:
        return "it is a folder that is not a dslc artifact (--force replaces it)"
    return None


def refuse_output(option: str, path: str, problem: str) -> int:
    return usage_error(f"will not write {option} {visible(path)}: {problem}")


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

    if args.emit:
        emit(session, compilation)
    stem = os.path.splitext(os.path.basename(args.file))[0]
    output = args.output or f"{stem}.{args.target}"
    if problem := output_refusal(output, compilation, folder=True, force=args.force):
        return refuse_output("-o", output, problem)
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
    from .api import Program
    from .training import TrainError, final_metrics, nonfinite_loss

    program = Program(compilation)
    overrides = {k: v for k, v in (("steps", args.steps), ("epochs", args.epochs),
                                   ("batch_size", args.batch_size),
                                   ("devices", args.devices), ("mesh", args.mesh))
                 if v is not None}
    from ..runtime.mesh import writes_files

    writer = writes_files()
    log = print if writer and not args.quiet else (lambda line: None)
    try:
        result = program.fit(log=log, verbose=1, **overrides)
        final = final_metrics(program, result.params)
    except TrainError as error:
        print_diagnostics(session, error.diagnostics)
        return EXIT_DIAGNOSTICS
    except (RuntimeError, ValueError) as error:
        if distributed and processes.is_peer_failure(error):
            return processes.peer_failed(error)
        raise
    if not writer:
        return EXIT_OK
    print("final: " + " - ".join(f"{k}: {v:.4f}" for k, v in final.items()))
    if args.history:
        try:
            result.history.to_json(args.history)
        except OSError as error:
            print(f"error: cannot write the history to {visible(args.history)}: "
                  f"{error.strerror or error}", file=sys.stderr)
            return EXIT_DIAGNOSTICS
        print(f"wrote history to {args.history}")
    if diagnostic := nonfinite_loss(program, result):
        print_diagnostics(session, [diagnostic])
        return EXIT_DIAGNOSTICS
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
