//! The layers hold: every `crate::…`, `super::…`, `self::…` and child-module path in src/ is
//! resolved to the file it names, and
//! 1. an arrow between layers must be one README.md "Layout" allows,
//! 2. no two files import each other, directly or round a longer loop,
//! 3. the core returns no `Result<_, String>` (its errors are typed).
//!
//! `mod x;` declares a child and is no import; a `pub use` re-export is followed to the item's own
//! file, so `super::KmsError` in kms/import.rs is an edge to kms/error.rs, not to kms/mod.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Which layers a layer may import (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("core", &[]),
    ("io", &["core"]),
    ("hsm", &["core", "io"]),
    ("kms", &["core", "io"]),
    ("app", &["core", "io", "hsm", "kms"]),
    ("tui", &["core", "app"]),
    ("cli", &["core", "io", "hsm", "kms", "app", "tui"]),
];

/// One source file as a module: its path from the crate root and its text without comments
/// and string contents.
struct Module {
    file: String,
    path: Vec<String>,
    code: String,
    raw: String,
}

/// One reference from a line of a file to a module path (absolute, from the crate root).
struct Reference {
    line: usize,
    target: Vec<String>,
    reexport: bool,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path a file defines: src/lib.rs is the root, src/a/mod.rs and src/a.rs are `a`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Blanks comments, string and char literal contents (keeping line breaks), so that only code
/// is searched.
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !is_ident(b[i - 1]))
        {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(b[j]));
                j += 1;
            }
            out.push('"');
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\'', '"'), or a lifetime ('a), which is kept.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            } else if b.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads a path or use tree at `s[i..]` (after its first segment's `::`) and returns every full
/// path it names, as segments (`{a, b::{c, d}}` gives three).
fn use_tree(s: &[char], i: &mut usize) -> Vec<Vec<String>> {
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip_ws(i);
    if *i < s.len() && s[*i] == '{' {
        *i += 1;
        let mut all = Vec::new();
        loop {
            skip_ws(i);
            if *i >= s.len() {
                return all;
            }
            if s[*i] == '}' {
                *i += 1;
                return all;
            }
            if s[*i] == ',' {
                *i += 1;
                continue;
            }
            let before = *i;
            all.extend(use_tree(s, i));
            if *i == before {
                *i += 1;
            }
        }
    }
    let start = *i;
    while *i < s.len() && (is_ident(s[*i]) || s[*i] == '*') {
        *i += 1;
    }
    let seg: String = s[start..*i].iter().collect();
    if seg.is_empty() {
        return vec![vec![]];
    }
    let mut j = *i;
    while j < s.len() && s[j].is_whitespace() {
        j += 1;
    }
    if j + 1 < s.len() && s[j] == ':' && s[j + 1] == ':' {
        *i = j + 2;
        return use_tree(s, i)
            .into_iter()
            .map(|mut rest| {
                rest.insert(0, seg.clone());
                rest
            })
            .collect();
    }
    if seg == "self" || seg == "*" {
        return vec![vec![]];
    }
    vec![vec![seg]]
}

fn line_of(s: &[char], at: usize) -> usize {
    s[..at].iter().filter(|&&c| c == '\n').count() + 1
}

/// Every reference a file makes, with the module its code sits in at that point (inline
/// `mod x { … }` blocks move `super::` one level down).
fn references(m: &Module, modules: &BTreeSet<Vec<String>>) -> Vec<Reference> {
    let s: Vec<char> = m.code.chars().collect();
    let mut refs = Vec::new();
    // (brace depth at which an inline module opened, its name)
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == '{' {
            depth += 1;
            if let Some(name) = pending_mod.take() {
                inline.push((depth, name));
            }
            i += 1;
            continue;
        }
        if c == '}' {
            if inline.last().is_some_and(|(d, _)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if c == ';' {
            pending_mod = None;
        }
        if !is_ident(c) || (i > 0 && (is_ident(s[i - 1]) || s[i - 1] == '$')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        let word: String = s[start..i].iter().collect();
        if word == "mod" {
            let mut j = i;
            while j < s.len() && s[j].is_whitespace() {
                j += 1;
            }
            let n0 = j;
            while j < s.len() && is_ident(s[j]) {
                j += 1;
            }
            pending_mod = Some(s[n0..j].iter().collect());
            i = j;
            continue;
        }
        // Only the first segment of a path counts: `a::b` preceded by `::` is the middle of one.
        let preceded_by_path = start >= 2 && s[start - 1] == ':' && s[start - 2] == ':';
        let mut j = i;
        while j < s.len() && s[j].is_whitespace() {
            j += 1;
        }
        let is_path = j + 1 < s.len() && s[j] == ':' && s[j + 1] == ':';
        if preceded_by_path || !is_path {
            continue;
        }
        let mut here: Vec<String> = m.path.clone();
        here.extend(inline.iter().map(|(_, n)| n.clone()));
        let base: Option<Vec<String>> = match word.as_str() {
            "crate" => Some(vec![]),
            "self" => Some(here.clone()),
            "super" => {
                let mut b = here.clone();
                b.pop();
                Some(b)
            }
            child => {
                let mut p = here.clone();
                p.push(child.to_string());
                modules.contains(&p).then(|| here.clone())
            }
        };
        let Some(mut base) = base else { continue };
        let mut k = j + 2;
        if word != "crate" && word != "self" && word != "super" {
            k = start;
        }
        // `super::super::…`
        loop {
            let mut t = k;
            while t < s.len() && s[t].is_whitespace() {
                t += 1;
            }
            let w: String = s[t..].iter().take(5).collect();
            if w == "super" && s.get(t + 5) == Some(&':') {
                base.pop();
                k = t + 7;
            } else {
                break;
            }
        }
        let line_start = s[..start]
            .iter()
            .rposition(|&c| c == '\n')
            .map_or(0, |p| p + 1);
        let line_text: String = s[line_start..start].iter().collect();
        let reexport = line_text.trim_start().starts_with("pub use")
            || line_text.trim_start().starts_with("pub(crate) use");
        let line = line_of(&s, start);
        for rest in use_tree(&s, &mut k) {
            let mut target = base.clone();
            target.extend(rest);
            refs.push(Reference {
                line,
                target,
                reexport,
            });
        }
        i = k.max(i);
    }
    refs
}

struct Graph {
    modules: Vec<Module>,
    by_path: BTreeMap<Vec<String>, usize>,
    /// Per file: re-exported name -> absolute path it stands for.
    reexports: Vec<BTreeMap<String, Vec<String>>>,
}

impl Graph {
    /// The file an absolute path lands in: the longest module-path prefix, following re-exports
    /// of the next segment.
    fn resolve(&self, target: &[String], hops: usize) -> Option<usize> {
        let mut best = None;
        for n in (0..=target.len()).rev() {
            if let Some(&f) = self.by_path.get(&target[..n]) {
                best = Some((f, n));
                break;
            }
        }
        let (f, n) = best?;
        if hops < 8
            && let Some(name) = target.get(n)
            && let Some(to) = self.reexports[f].get(name)
        {
            let mut full = to.clone();
            full.extend(target[n + 1..].iter().cloned());
            return self.resolve(&full, hops + 1).or(Some(f));
        }
        Some(f)
    }
}

fn layer(path: &[String]) -> &str {
    path.first().map_or("(root)", |s| s.as_str())
}

fn load() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut modules = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        if rel == Path::new("main.rs") {
            continue; // the binary: it uses the library from outside, as `keyrite::`
        }
        let raw = fs::read_to_string(&f).unwrap();
        modules.push(Module {
            file: format!("src/{}", rel.display()),
            path: module_path(rel),
            code: strip(&raw),
            raw,
        });
    }
    let by_path: BTreeMap<Vec<String>, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.path.clone(), i))
        .collect();
    let known: BTreeSet<Vec<String>> = by_path.keys().cloned().collect();
    let mut reexports = Vec::new();
    for m in &modules {
        let mut map = BTreeMap::new();
        for r in references(m, &known) {
            if r.reexport
                && let Some(name) = r.target.last()
            {
                map.insert(name.clone(), r.target.clone());
            }
        }
        reexports.push(map);
    }
    // `#[macro_export]` puts a macro at the crate root: `crate::say!` stands for the file that
    // defines it, as if the root re-exported it.
    if let Some(&root) = by_path.get(&Vec::new()) {
        for m in &modules {
            let mut rest = m.raw.as_str();
            while let Some(at) = rest.find("#[macro_export]") {
                rest = &rest[at + "#[macro_export]".len()..];
                let Some(name) = rest.trim_start().strip_prefix("macro_rules!").map(|r| {
                    r.trim_start()
                        .split(|c: char| !is_ident(c))
                        .next()
                        .unwrap_or("")
                }) else {
                    continue;
                };
                let mut target = m.path.clone();
                target.push(name.to_string());
                reexports[root].insert(name.to_string(), target);
            }
        }
    }
    Graph {
        modules,
        by_path,
        reexports,
    }
}

/// Every import edge: (from file, to file, line). Re-exports are naming, not use: no edge.
fn edges(g: &Graph) -> Vec<(usize, usize, usize)> {
    let known: BTreeSet<Vec<String>> = g.by_path.keys().cloned().collect();
    let mut out = Vec::new();
    for (from, m) in g.modules.iter().enumerate() {
        for r in references(m, &known) {
            if r.reexport {
                continue;
            }
            if let Some(to) = g.resolve(&r.target, 0)
                && to != from
            {
                out.push((from, to, r.line));
            }
        }
    }
    out
}

fn source_line(m: &Module, line: usize) -> String {
    m.raw.lines().nth(line - 1).unwrap_or("").trim().to_string()
}

#[test]
fn every_import_follows_an_allowed_arrow() {
    let g = load();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut bad = Vec::new();
    for (from, to, line) in edges(&g) {
        let (a, b) = (&g.modules[from], &g.modules[to]);
        let (la, lb) = (layer(&a.path), layer(&b.path));
        if la == lb {
            continue;
        }
        let ok = allowed.get(la).is_some_and(|l| l.contains(&lb));
        if !ok {
            bad.push(format!(
                "{}:{line}: {la} -> {lb} ({}): {}",
                a.file,
                b.file,
                source_line(a, line)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layer arrows (allowed: {ALLOWED:?}):\n{}",
        bad.join("\n")
    );
}

/// Tarjan's strongly connected components over the file graph.
fn cycles(n: usize, adj: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        adj: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.adj[v].iter() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        adj,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_import_cycle_between_files() {
    let g = load();
    let n = g.modules.len();
    let all = edges(&g);
    let mut adj = vec![BTreeSet::new(); n];
    for &(a, b, _) in &all {
        adj[a].insert(b);
    }
    let mut report = Vec::new();
    for scc in cycles(n, &adj) {
        let names: Vec<&str> = scc.iter().map(|&f| g.modules[f].file.as_str()).collect();
        report.push(format!("cycle among {}:", names.join(", ")));
        for &(a, b, line) in &all {
            if scc.contains(&a) && scc.contains(&b) {
                report.push(format!(
                    "  {}:{line} -> {}: {}",
                    g.modules[a].file,
                    g.modules[b].file,
                    source_line(&g.modules[a], line)
                ));
            }
        }
    }
    assert!(report.is_empty(), "import cycles:\n{}", report.join("\n"));
}

/// `Result<…, String>`: the generic arguments of each `Result<` whose last one is `String`.
fn string_results(code: &str) -> Vec<usize> {
    let s: Vec<char> = code.chars().collect();
    let mut lines = Vec::new();
    let pat: Vec<char> = "Result<".chars().collect();
    let mut i = 0;
    while i + pat.len() <= s.len() {
        if s[i..i + pat.len()] == pat[..] && (i == 0 || !is_ident(s[i - 1])) {
            let mut depth = 0;
            let mut j = i + pat.len() - 1;
            let mut last_arg_start = j + 1;
            while j < s.len() {
                match s[j] {
                    '<' | '(' | '[' => depth += 1,
                    '>' | ')' | ']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => last_arg_start = j + 1,
                    _ => {}
                }
                j += 1;
            }
            let last: String = s[last_arg_start..j.min(s.len())].iter().collect();
            if last_arg_start > i + pat.len() && last.trim() == "String" {
                lines.push(line_of(&s, i));
            }
        }
        i += 1;
    }
    lines
}

#[test]
fn core_errors_are_typed_not_strings() {
    let g = load();
    let mut bad = Vec::new();
    for m in g.modules.iter().filter(|m| layer(&m.path) == "core") {
        for line in string_results(&m.code) {
            bad.push(format!("{}:{line}: {}", m.file, source_line(m, line)));
        }
    }
    assert!(
        bad.is_empty(),
        "the core returns Result<_, String>; give it a typed error:\n{}",
        bad.join("\n")
    );
}

/// The checks above find what they look for: a made-up file set with a wrong arrow, a cycle and
/// a string error.
#[test]
fn the_checks_catch_what_they_look_for() {
    let code = strip(
        "// crate::app::x in a comment\nfn f() -> Result<(), String> { let s = \"crate::cli::y\"; }\nuse crate::{app::error::Error, io::fs};\nmod tests { use super::f; }\n",
    );
    assert_eq!(string_results(&code), vec![2]);
    assert!(!code.contains("crate::cli"), "{code}");
    let m = Module {
        file: "src/core/x.rs".into(),
        path: vec!["core".into(), "x".into()],
        code,
        raw: String::new(),
    };
    let known: BTreeSet<Vec<String>> = [vec!["core".to_string(), "x".to_string()]].into();
    let targets: Vec<(usize, Vec<String>)> = references(&m, &known)
        .into_iter()
        .map(|r| (r.line, r.target))
        .collect();
    let v = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        targets,
        vec![
            (3, v(&["app", "error", "Error"])),
            (3, v(&["io", "fs"])),
            (4, v(&["core", "x", "f"])),
        ]
    );
    let adj = vec![
        BTreeSet::from([1]),
        BTreeSet::from([2]),
        BTreeSet::from([0]),
        BTreeSet::new(),
    ];
    assert_eq!(cycles(4, &adj), vec![vec![0, 1, 2]]);
}
