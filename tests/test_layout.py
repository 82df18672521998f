"""The package's layout, read from its own import statements (ast over lyra/**/*.py, every
import at any depth in a module, including those inside functions): no import circles
between modules, nor between folders; import chains at most six layers deep; and nothing
under lyra/analysis/ (ensembles, mutagenesis, variants, design) reaches the training loop.

Layers are counted over folders: a folder of lyra/ (nn, data, io, training, models,
analysis, report) is one layer, and each top-level module (cli, config, results, metrics,
errors) is a layer of its own. The depth of an import chain is the number of layers it
passes through, so ``cli -> analysis.variants -> analysis.mutagenesis -> analysis.ensemble
-> models.saved -> nn.architectures -> config -> errors`` is six: cli, analysis, models,
nn, config, errors. (The package's ``__init__``, which imports the Lyra classes on first
use for ``lyra.Lyra``, is not a layer.)"""

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lyra"
MAX_LAYERS = 6


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module of lyra/ and the lyra modules it imports (``from lyra.x import y`` names
    the module ``lyra.x.y`` where that is a module, else ``lyra.x``)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                         for alias in node.names]
            else:
                continue
            targets.update(t for t in found if t in modules and t != name)
        graph[name] = targets
    return graph


GRAPH = _imports()


def _layer(module: str) -> str:
    """The folder a module is in (``lyra.nn``), or the top-level module itself."""
    return ".".join(module.split(".")[:2])


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle found by depth-first search (each reported once from where it closes)."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles_between_modules():
    assert _circles(GRAPH) == []


def test_no_import_circles_between_folders():
    folders = {}
    for module, targets in GRAPH.items():
        if module != "lyra":
            folders.setdefault(_layer(module), set()).update(_layer(t) for t in targets if _layer(t) != _layer(module))
    assert _circles(folders) == []


def _deepest(module: str) -> tuple[int, tuple[str, ...]]:
    """(layers, chain) of the deepest import chain from ``module``."""
    @functools.lru_cache(maxsize=None)
    def deepest(node):
        best = (1, (node,))
        for target in GRAPH[node]:
            layers, chain = deepest(target)
            layers += _layer(target) != _layer(node)
            if layers > best[0]:
                best = (layers, (node,) + chain)
        return best

    return deepest(module)


def test_import_chains_pass_through_at_most_six_layers():
    layers, chain = max(_deepest(module) for module in GRAPH if module != "lyra")
    assert layers <= MAX_LAYERS, " -> ".join(chain)


def test_analysis_never_reaches_the_training_loop():
    """Neither directly nor through the modules it imports: ensembles, mutagenesis and
    variant scoring predict with saved models (lyra.models.saved) and never train."""
    reached, todo = set(), [m for m in GRAPH if m.startswith("lyra.analysis")]
    while todo:
        module = todo.pop()
        for target in GRAPH[module] - reached:
            reached.add(target)
            todo.append(target)
    assert not {m for m in reached if m.startswith("lyra.training")}
    assert "lyra.models.estimators" not in reached and "lyra.models.fold" not in reached


def test_the_layout_test_sees_the_package():
    """A guard on the test itself: the graph holds the folders and the known edges."""
    assert {"lyra.cli", "lyra.models.saved", "lyra.training.loop", "lyra.analysis.ensemble"} <= set(GRAPH)
    assert "lyra.models.saved" in GRAPH["lyra.analysis.ensemble"]
    assert "lyra.training.loop" in GRAPH["lyra.models.estimators"]


def test_table_and_figure_jobs_do_not_import_torch():
    """Most jobs of a run (evaluate, figures, summary) only read tables and draw: importing
    PyTorch would add about a second to each of them."""
    import subprocess
    import sys

    code = ("import sys, lyra.results, lyra.report.plots, lyra.report.summary; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
