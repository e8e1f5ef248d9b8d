"""Every setting, option and logger that README.md and docs/*.md name exists.

(docs/benchmarks.md and docs/history.md are records of runs, with the options of their time: not checked.)

A user copies commands and setting names from the docs; a key that is not in conf/ stops Hydra
with "Key ... is not in struct", and one named in prose sends the reader after nothing. This test
reads the Markdown and checks it against the configs composed with Hydra's compose API:

- **Overrides** (``key=value``, ``+key=value``, ``~key``) of train.py and eval.py commands (in code
  blocks and in inline code) and in inline code: the key must be in the config (``+key``: must not
  be, as Hydra appends it; ``~key``: must be), composed with the config groups the same command
  chooses (``data=dlc``, ``+experiment=...``, ``hydra/launcher=slurm``), or, in prose, its paragraph
  or else its section; eval.py commands compose eval.yaml. Every config group choice must compose.
- **Dotted names** in inline code whose first part is a top-level config key
  (``data.source.image_root``, ``trainer.max_time``): the key must be in the config.
- **Data settings** (``data.*``): a command without ``data=`` uses the default data; in prose
  without a ``data=<name>`` beside it the key must exist in one of the formats the paragraph (else
  its section's heading) names (DeepLabCut, SLEAP, COCO, plain CSV, synthetic), or, when neither
  names one, in every file format.
- **predict.py flags**: a ``--flag`` in a predict.py command, or alone in inline code in a paragraph
  that names predict.py and no other script, must be one of its options.
- **Loggers**: a Lightning logger named anywhere (TensorBoard, MLflow, ...) needs a conf/logger file.

Not config, skipped: a dotted name whose first part is no top-level key (``torch.load``,
``seqattn.data``) or whose last part is a file suffix (``splits.json``, ``model.safetensors``);
inline code with a ``(`` (Python: ``pd.read_csv(path, header=[0, 1, 2])``) or that starts with a
word that is no setting (``pip install torch==2.13.0``); a lone ``name=value`` in inline code whose
name is no top-level key (``steps=0`` describing a model). A placeholder
segment (``hydra.launcher.<key>``, ``data.augment.*``) checks the part before it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# The history names the options of the commit each run ran at (a row of `model=simple` from
# before it became `+experiment=query_decoder`): it is a record, not instructions.
RECORDS = {"history.md"}
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in RECORDS)]

FILE_FORMATS = ("dlc", "slp", "coco", "csv")  # the data groups that read your files
FORMAT_WORDS = {"dlc": "DeepLabCut", "slp": "SLEAP", "coco": "COCO", "csv": "plain CSV", "synthetic": "synthetic"}
FILE_SUFFIXES = {"json", "csv", "yaml", "yml", "h5", "ckpt", "onnx", "pt", "png", "mp4", "md", "py", "slp", "nwb"}
FILE_SUFFIXES |= {"safetensors", "bin", "txt", "log", "lock"}
SCRIPT = re.compile(r"\b(train|eval)\.py$")  # the Hydra commands whose arguments are overrides
OVERRIDE = re.compile(r"^(\+{0,2}|~)([a-z_][a-z0-9_]*(?:[./][a-z0-9_*<>-]+)*)(=.*)?$")
DOTTED = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[a-z0-9_*<>]+)+$")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SPAN = re.compile(r"`([^`]+)`")
UNIT_START = re.compile(r"^\s*(?:[-*] |\||#|\d+\. )")
OTHER_SCRIPT = re.compile(r"python -m|\b(?!predict\.py)[\w/]+\.py\b")


def config_groups() -> set[str]:
    """conf/'s config groups: data, model, ..., hydra/launcher."""
    return {str(p.relative_to(CONF)) for p in CONF.rglob("*") if p.is_dir() and any(p.glob("*.yaml"))}


GROUPS = config_groups()


@dataclass
class Unit:
    """A command, or a paragraph, list item or table row of prose: what a key is read with."""

    command: bool
    config: str = "train"  # the entry config: train, or eval for eval.py commands
    groups: dict[str, list[str]] = field(default_factory=dict)  # "+experiment" -> ["optuna_search"]
    section: dict[str, list[str]] = field(default_factory=dict)  # prose: the groups its section chooses
    text: str = ""
    heading: str = ""  # prose: its section's heading
    where: str = ""  # file:line of its start


@dataclass
class Mention:
    where: str  # file:line
    token: str  # the key as written, with its + / ~ prefix and without its value
    unit: Unit


@cache
def composed(config: str, overrides: tuple[str, ...]) -> dict | str:
    """The config with ``overrides`` as plain containers (hydra's own part included), or the error."""
    try:
        cfg = compose(config_name=config, overrides=list(overrides), return_hydra_config=True)
    except Exception as exc:  # noqa: BLE001 - any composition error is what the test reports
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return OmegaConf.to_container(cfg, resolve=False)


@cache
def top_level_keys() -> frozenset[str]:
    keys = set(GROUPS) | {g.split("/")[0] for g in GROUPS}
    for config in ("train", "eval"):
        keys |= set(composed(config, ()))
    return frozenset(keys)


def is_group(name: str) -> bool:
    return name.lstrip("+") in GROUPS or "/" in name


def placeholder(value: str) -> bool:
    return "<" in value or "..." in value or not value


def checked_key(token: str) -> str:
    """The key without prefix, cut before a placeholder segment (``hydra.launcher.<key>`` -> ``hydra.launcher``)."""
    parts = token.lstrip("+~").split(".")
    cut = next((i for i, p in enumerate(parts) if "<" in p or "*" in p), len(parts))
    return ".".join(parts[:cut])


def contexts(mention: Mention, groups: dict[str, list[str]]) -> tuple[bool, list[tuple[str, ...]]]:
    """(every one must hold the key, else any one; the override lists): the choices in ``groups``
    that can hold it (its own group, hydra/* for hydra.*, experiments), with the data formats the
    unit names (see the module docstring). Every choice is also composed alone, by the test."""
    unit, first = mention.unit, checked_key(mention.token).split(".")[0]
    relevant = [g for g in groups if g.lstrip("+").split("/")[0] == first and first != "data"]
    relevant += [g for g in groups if g.lstrip("+") == "experiment"]
    base = tuple(f"{g}={groups[g][0]}" for g in relevant)
    data = groups.get("data") or groups.get("+data")
    if data:
        return False, [(*base, f"data={data[0]}")]
    if unit.command or not checked_key(mention.token).startswith("data."):
        return False, [base]  # the default data (synthetic)
    named = [f for f, word in FORMAT_WORDS.items() if word in unit.text]
    named = named or [f for f, word in FORMAT_WORDS.items() if word in unit.heading]
    if named:
        return False, [(*base, f"data={f}") for f in named]
    return True, [(*base, f"data={f}") for f in FILE_FORMATS]


def has_key(tree: dict, key: str) -> tuple[bool, bool]:
    """(the key is there, its parent is a mapping that is there)."""
    node, parts = tree, key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict):
            return False, False
        if part not in node:
            return False, i == len(parts) - 1
        node = node[part]
    return True, True


def problem_in(mention: Mention, groups: dict[str, list[str]]) -> str | None:
    """None if the key holds as written with ``groups`` chosen, else why not."""
    token, key = mention.token, checked_key(mention.token)
    every, lists = contexts(mention, groups)
    failures = []
    for overrides in lists:
        tree = composed(mention.unit.config, overrides)
        if isinstance(tree, str):
            failures.append(f"{mention.unit.config}.yaml with {list(overrides)} does not compose: {tree}")
            continue
        there, parent = has_key(tree, key)
        if token.startswith("++"):
            good = there or parent
        elif token.startswith("+"):
            good = parent and not there
            if there:
                failures.append(f"{key} is in the config: Hydra refuses `+{key}=`, drop the +")
                continue
        else:
            good = there
        if not good:
            failures.append(f"not in {mention.unit.config}.yaml composed with {list(overrides)}")
    if every:
        return "; ".join(failures) or None
    return None if len(failures) < len(lists) else "; ".join(failures)


def problem(mention: Mention) -> str | None:
    """None if the key holds with its unit's group choices, or else with its section's."""
    unit = mention.unit
    why = problem_in(mention, unit.groups)
    if why and unit.section and any(g not in unit.groups for g in unit.section):
        if problem_in(mention, {**unit.section, **unit.groups}) is None:
            return None
    return why


def split_units(lines: list[str]) -> list[tuple[int, list[str], bool]]:
    """(first line number, lines, is code) for every code line (continuations joined) and prose unit."""
    units, prose, start, in_code, pending = [], [], 0, False, None
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            if prose:
                units.append((start, prose, False))
                prose = []
            in_code = not in_code
            continue
        if in_code:
            if pending is None:
                pending = (number, [])
            pending[1].append(line.rstrip().rstrip("\\"))
            if not line.rstrip().endswith("\\"):
                units.append((pending[0], pending[1], True))
                pending = None
            continue
        if not line.strip() or UNIT_START.match(line):
            if prose:
                units.append((start, prose, False))
            prose, start = ([line], number) if line.strip() else ([], number + 1)
            continue
        if not prose:
            start = number
        prose.append(line)
    if prose:
        units.append((start, prose, False))
    return units


def command_words(text: str) -> tuple[str, list[str]] | None:
    """(the script, the words after it) of a train.py / eval.py command in ``text``, before a ``#``
    comment and within its ``&&`` / ``;`` / ``|`` segment; None for no such command."""
    text = re.split(r"\s+#", text, maxsplit=1)[0]
    for segment in re.split(r"&&|;|\|", text):
        words = segment.split()
        for i, word in enumerate(words):
            if SCRIPT.search(word):
                return word, words[i + 1 :]
    return None


def add_groups(groups: dict[str, list[str]], words: list[str]) -> None:
    for word in words:
        match = OVERRIDE.match(word)
        if match and match.group(3) and is_group(match.group(1) + match.group(2)):
            value = match.group(3)[1:]
            if not placeholder(value):
                groups.setdefault(match.group(1) + match.group(2), []).extend(value.split(","))


def command_unit(script: str, words: list[str], text: str, where: str) -> Unit:
    unit = Unit(command=True, config="eval" if script.endswith("eval.py") else "train", text=text, where=where)
    add_groups(unit.groups, words)
    return unit


def mentions_in(path: Path) -> tuple[list[Mention], list[tuple[str, str]], list[Unit]]:
    """The config keys (Mention), predict.py flags ((where, flag)) and the units choosing config
    groups that ``path`` names."""
    name = path.relative_to(ROOT)
    found, flags, units, section, heading = [], [], [], {}, ""
    for start, lines, code in split_units(path.read_text(encoding="utf-8").splitlines()):
        text = " ".join(lines)
        if code:
            command = command_words(text)
            if command:
                unit = command_unit(*command, text, f"{name}:{start}")
                units.append(unit)
                found += [Mention(f"{name}:{start}", k, unit) for k in override_keys(command[1], command=True)]
            if "predict.py" in text:
                flags += [(f"{name}:{start}", f) for f in FLAG.findall(re.split(r"\s+#", text, maxsplit=1)[0])]
            continue
        if lines[0].startswith("#"):
            section, heading = {}, lines[0]  # a heading starts a section
        joined = "\n".join(lines)
        spans = [(m.group(1), start + joined.count("\n", 0, m.start())) for m in SPAN.finditer(joined)]
        prose = Unit(command=False, text=joined, section=section, heading=heading, where=f"{name}:{start}")
        for span, _ in spans:
            if not command_words(span) and "(" not in span:
                add_groups(prose.groups, span.split())
                add_groups(section, span.split())
        units.append(prose)
        for span, line in spans:
            where = f"{name}:{line}"
            command = command_words(span)
            if command:
                unit = command_unit(*command, span, where)
                units.append(unit)
                found += [Mention(where, k, unit) for k in override_keys(command[1], command=True)]
                if "predict.py" in span:
                    flags += [(where, f) for f in FLAG.findall(span)]
                continue
            if "predict.py" in span or ("predict.py" in joined and not OTHER_SCRIPT.search(joined)):
                flags += [(where, f) for f in FLAG.findall(span)]
            if "(" in span:
                continue  # Python, not settings
            words = span.split()
            if len(words) > 1 and not override_keys(words[:1], command=True) and not is_group(words[0].split("=")[0]):
                continue  # another program's command line (pip install torch==2.13.0, wandb sync ...)
            found += [Mention(where, k, prose) for k in override_keys(words, command=len(words) > 1)]
            if len(words) == 1 and DOTTED.match(words[0]) and names_config(words[0]):
                found.append(Mention(where, words[0], prose))
    return found, flags, [u for u in units if u.groups]


def names_config(key: str) -> bool:
    """A dotted name that is a config key: its first part is a top-level key, its last no file suffix."""
    parts = key.lstrip("+~").split(".")
    return parts[0] in top_level_keys() and parts[-1] not in FILE_SUFFIXES


def override_keys(words: list[str], command: bool) -> list[str]:
    """The keys (with + / ~) of the override-like words: of a command (or a span of several
    words), every one; of a lone word, only one that names config."""
    keys = []
    for word in words:
        match = OVERRIDE.match(word)
        if not match or not (match.group(3) or match.group(1) == "~"):
            continue
        prefix, key = match.group(1), match.group(2)
        if is_group(prefix + key):
            continue  # a config group choice: checked by composing with it
        if command or names_config(key):
            keys.append(prefix + key)
    return keys


def predict_options() -> set[str]:
    """The options predict.py's parser knows: the ``add_argument("--...")`` calls in predict.py and
    in the seqattn modules it imports (read, not run: no torch import in this test)."""
    sources, options = [ROOT / "predict.py"], set()
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and source.name == "predict.py":
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for module in (n for n in names if n.startswith("seqattn")):
                    file = ROOT.joinpath(*module.split("."))
                    sources += [f for f in (file.with_suffix(".py"), file / "__init__.py") if f.is_file()]
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
                options |= {a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("--")}
    return options


def lightning_loggers() -> dict[str, str]:
    """Lightning's loggers as the docs would name them (tensorboard -> TensorBoardLogger), from the
    ``__all__`` of lightning.pytorch.loggers (read, not imported)."""
    spec = importlib.util.find_spec("lightning")  # a top-level spec: found without importing it
    init = Path(spec.origin).parent / "pytorch" / "loggers" / "__init__.py"
    names = []
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            names = [n.value for n in node.value.elts]
    names = [n for n in names if n.endswith("Logger") and n != "Logger"]
    assert "TensorBoardLogger" in names, f"lightning.pytorch.loggers.__all__ not read from {init}: {names}"
    return {n.removesuffix("Logger").lower(): n for n in names}


def test_docs_name_only_settings_options_and_loggers_that_exist():
    problems, mentions, flags, units = [], [], [], []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        composed.cache_clear()
        top_level_keys.cache_clear()
        for path in DOCS:
            found, flagged, choosing = mentions_in(path)
            mentions += found
            flags += flagged
            units += choosing
        for mention in mentions:
            why = problem(mention)
            if why:
                problems.append(f"{mention.where}: `{mention.token}`: {why}")
        for unit in units:
            for group, values in unit.groups.items():
                for value in values:
                    tree = composed(unit.config, (f"{group}={value}",))
                    if isinstance(tree, str):
                        problems.append(f"{unit.where}: `{group}={value}` does not compose: {tree}")
        composed.cache_clear()
    options = predict_options()
    assert "--pcutoff" in options, f"predict.py --help lists no options: {sorted(options)}"
    problems += [f"{where}: predict.py has no option {flag}" for where, flag in flags if flag not in options]
    have, loggers = {p.stem for p in (CONF / "logger").glob("*.yaml")}, lightning_loggers()
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for word, cls in loggers.items():
                if word not in have and re.search(rf"\b{word}\b", line, re.IGNORECASE):
                    problems.append(f"{path.relative_to(ROOT)}:{number}: names {cls}; conf/logger has no {word}.yaml")
    assert len(mentions) > 100, f"only {len(mentions)} settings found in the docs: is the extraction broken?"
    assert not problems, "settings, options or loggers named in the docs that do not exist:\n" + "\n".join(problems)
