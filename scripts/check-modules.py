#!/usr/bin/env python3
"""No module imports a module that imports it, in any crate.

usage: scripts/check-modules.py [CRATE_SRC_DIR ...]   (default: app/src server/src frontend/src)

Reads each crate's module tree from its `mod` declarations, and each module's imports: its
`use` declarations and the paths its code names (`crate::a::b`, `super::x`, `self::y`, a child
module's name). Every imported name is followed to the module that defines it (through `pub use`
re-exports), and each module depends on those. A parent declaring a child (`mod child;`) is not
an import; a parent naming something of its child's is. Prints every cycle (a strongly connected
set of modules) with the imports that make it, and exits 1 if there is one.
"""

import re
import sys
from pathlib import Path

USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
MOD = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
INLINE_MOD = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{", re.M)
PATH = re.compile(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)")
ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:const\s+)?(?:unsafe\s+)?"
    r"(?:fn|struct|enum|trait|type|const|static|macro_rules!)\s+(\w+)",
    re.M,
)


def strip(text):
    """The code without comments, strings and `#[cfg(test)] mod tests { ... }` blocks."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#+"(?:.|\n)*?"#+', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    # Tests may import what they test from anywhere: they are not part of the module graph.
    out, at = [], 0
    for match in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub\s+)?mod\s+\w+\s*\{", text):
        if match.start() < at:
            continue
        out.append(text[at:match.start()])
        depth, i = 1, match.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        at = i
    out.append(text[at:])
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d, e as f}}` -> ["a::b", "a::c::d", "a::c::e as f"]."""
    tree = re.sub(r"\s*::\s*", "::", re.sub(r"\s+", " ", tree)).strip()
    if "{" not in tree:
        return [tree]
    head, rest = tree.split("{", 1)
    inner = rest[: rest.rfind("}")]
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        current += ch
    parts.append(current.strip())
    return [path for part in parts if part for path in expand(head + part)]


class Crate:
    def __init__(self, src):
        self.src = Path(src)
        root = next(self.src / f for f in ("lib.rs", "main.rs") if (self.src / f).exists())
        self.files = {}  # module path (tuple) -> stripped code
        self.load((), root)
        self.defines = {m: set(ITEM.findall(code)) for m, code in self.files.items()}
        self.reexports = {m: {} for m in self.files}  # name -> absolute path
        for module, code in self.files.items():
            for public, tree in USE.findall(code):
                if not public:
                    continue
                for path in expand(tree):
                    name, target = self.alias(path)
                    absolute = self.absolute(module, target)
                    if absolute and name != "*":
                        self.reexports[module][name] = absolute

    def load(self, module, file):
        text = strip(file.read_text())
        self.files[module] = text
        directory = file.parent if file.name in ("lib.rs", "main.rs", "mod.rs") else file.with_suffix("")
        for child in MOD.findall(text):
            for candidate in (directory / f"{child}.rs", directory / child / "mod.rs"):
                if candidate.exists():
                    self.load(module + (child,), candidate)
                    break

    @staticmethod
    def alias(path):
        if " as " in path:
            target, name = path.split(" as ", 1)
            return name.strip(), target.strip()
        return path.split("::")[-1], path

    def absolute(self, module, path):
        """`path` as seen from `module`, from the crate root; None outside the crate."""
        parts = path.split("::")
        if parts[0] == "crate":
            return tuple(parts[1:])
        base = list(module)
        if parts[0] == "self":
            parts = parts[1:]
        while parts and parts[0] == "super":
            base.pop()
            parts = parts[1:]
        if parts and path.split("::")[0] not in ("self", "super") and module + (parts[0],) not in self.files:
            return None  # another crate (std, app, leptos...)
        return tuple(base + parts)

    def resolve(self, path, seen=()):
        """The module defining the item `path` names (or the module `path` is)."""
        if path in self.files:
            return path
        for cut in range(len(path) - 1, -1, -1):
            module, rest = path[:cut], path[cut:]
            if module not in self.files:
                continue
            name = rest[0]
            if module + (name,) in self.files:
                return self.resolve(module + rest, seen)
            target = self.reexports[module].get(name)
            if target and (module, name) not in seen:
                return self.resolve(target + rest[1:], seen + ((module, name),))
            return module
        return ()

    def edges(self):
        """module -> {imported module: [the paths that import it]}."""
        graph = {m: {} for m in self.files}
        for module, code in self.files.items():
            named = [p for _, tree in USE.findall(code) for p in expand(tree)]
            body = USE.sub("", code)
            named += PATH.findall(body)
            # A child module named directly in code (`child::f()`), not through `use`.
            for child in {m[-1] for m in self.files if m[:-1] == module and len(m) == len(module) + 1}:
                if re.search(rf"(?<![\w:]){child}::\w", body):
                    named.append(f"self::{child}::x")
            for path in named:
                _, target = self.alias(path)
                absolute = self.absolute(module, target)
                if absolute is None:
                    continue
                defining = self.resolve(absolute)
                if defining != module:
                    graph[module].setdefault(defining, []).append(path)
        return graph


def cycles(graph):
    """Strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(group)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def name(module):
    return "::".join(("crate",) + module)


def main(dirs):
    bad = False
    for src in dirs:
        crate = Crate(src)
        graph = crate.edges()
        for group in cycles(graph):
            bad = True
            print(f"{src}: these modules import each other:")
            members = set(group)
            for module in sorted(group):
                for target, paths in sorted(graph[module].items()):
                    if target in members:
                        print(f"  {name(module)} -> {name(target)}  ({', '.join(sorted(set(paths))[:3])})")
    if not bad:
        print(f"no module imports one that imports it ({', '.join(dirs)})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["app/src", "server/src", "frontend/src"]))
