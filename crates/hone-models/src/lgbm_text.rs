//! A Rust-side check of LightGBM's text model format (`model.txt`), run before LightGBM's own
//! parser sees a model.
//!
//! LightGBM's parser trusts its input: it scans for `=` without a bound, jumps to tree offsets
//! from `tree_sizes` without checking them against the buffer, indexes arrays by the numbers it
//! reads and follows child indices without a cycle check. A truncated, corrupted or hand-edited
//! model therefore crashes the process (segfault, abort) or hangs it instead of failing. This
//! module accepts exactly the layout LightGBM writes (`GBDT::SaveModelToString`,
//! `Tree::ToString`) with every count, index and tree shape consistent, so whatever passes is
//! safe to hand to `LGBM_BoosterLoadModelFromString` and to predict with.

use std::collections::BTreeMap;

/// What a valid model text says about the model, for checks against the pipeline around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelShape {
    /// Outputs per row (`num_class`): 1 for regression and binary, k for k classes.
    pub num_class: usize,
    /// Input features the model expects (`max_feature_idx + 1`).
    pub n_features: usize,
    /// Trees in the model.
    pub n_trees: usize,
}

/// Why a text is not a LightGBM model hone can load safely, with the 1-based line it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FormatError {
    /// 1-based line number in the model text.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

/// LightGBM's own limit on `num_leaves` (`config.h`: `num_leaves <= 131072`).
const MAX_LEAVES: usize = 131_072;

/// Objectives whose `ConvertOutput` hone may run: the ones hone trains.
const OBJECTIVES: &[&str] = &[
    "regression",
    "regression_l1",
    "quantile",
    "huber",
    "fair",
    "poisson",
    "binary",
    "multiclass",
    "multiclassova",
    "cross_entropy",
    "cross_entropy_lambda",
    "mape",
    "gamma",
    "tweedie",
];

const HEADER_KEYS: &[&str] = &[
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "feature_names",
    "monotone_constraints",
    "feature_infos",
    "tree_sizes",
];

const TREE_KEYS: &[&str] = &[
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
    "cat_boundaries",
    "cat_threshold",
    "is_linear",
    "leaf_const",
    "num_features",
    "leaf_features",
    "leaf_coeff",
    "shrinkage",
];

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError {
        line,
        message: message.into(),
    })
}

/// One `key=value` line, remembered with its line number.
struct Field<'a> {
    line: usize,
    value: &'a str,
}

/// Parses one number with Rust's strict parser (no trailing text, no overflow), where LightGBM's
/// `Atoi` would silently wrap or stop at the first bad character.
fn number<T: std::str::FromStr>(line: usize, key: &str, token: &str) -> Result<T, FormatError> {
    if !plain_number(token) || !token.parse::<f64>().is_ok_and(f64::is_finite) {
        return err(line, format!("{key}: {token:?} is not a valid number"));
    }
    token
        .parse()
        .or_else(|_| err(line, format!("{key}: {token:?} is not a valid number")))
}

/// Whether `token` has the form LightGBM writes (`%.17g`-style: `-?digits(.digits)?` and an
/// optional exponent `e[+-]?digits`). Rust's parser also takes `+1`, `.5`, `inf` or `nan`, and an
/// exponent so large that the value is infinite; LightGBM's parser throws on some of those from
/// inside an OpenMP loop, which terminates the process (found by the mutation property test:
/// `0.0673069e6314410979` in `leaf_coeff`), so only the written form, finite, passes.
fn plain_number(token: &str) -> bool {
    let b = token.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// A space-separated list exactly as LightGBM joins it (single spaces, no empty items).
fn list<'a>(line: usize, key: &str, value: &'a str) -> Result<Vec<&'a str>, FormatError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = value.split(' ').collect();
    if items.iter().any(|s| s.is_empty()) {
        return err(line, format!("{key}: stray space in the list"));
    }
    Ok(items)
}

fn numbers<T: std::str::FromStr>(
    line: usize,
    key: &str,
    value: &str,
    expected: usize,
) -> Result<Vec<T>, FormatError> {
    let items = list(line, key, value)?;
    if items.len() != expected {
        return err(
            line,
            format!("{key} has {} values, expected {expected}", items.len()),
        );
    }
    items.iter().map(|t| number(line, key, t)).collect()
}

/// Validates a LightGBM text model. `Ok` means LightGBM can load it and predict with it without
/// reading out of bounds or looping; the error names the first offending line.
pub fn validate(text: &str) -> Result<ModelShape, FormatError> {
    if text.is_empty() {
        return err(1, "the model file is empty");
    }
    if let Some(pos) = text.find(['\0', '\r']) {
        return err(line_of(text, pos), "unexpected NUL or carriage-return byte");
    }
    if !text.ends_with('\n') {
        return err(
            line_of(text, text.len()),
            "the file ends mid-line (truncated?)",
        );
    }
    // Lines with their byte offsets (tree_sizes are byte counts).
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        lines.push((offset, l.trim_end_matches('\n')));
        offset += l.len();
    }
    if lines.first().map(|(_, l)| *l) != Some("tree") {
        return err(1, "not a LightGBM model (the first line must be `tree`)");
    }

    // Header: `key=value` lines up to the first tree (or `end of trees` for a model without any).
    let mut header: BTreeMap<&str, Field<'_>> = BTreeMap::new();
    let mut i = 1;
    while let Some(&(_, l)) = lines.get(i) {
        if l.starts_with("Tree=") || l == "end of trees" {
            break;
        }
        let n = i + 1;
        i += 1;
        if l.is_empty() {
            continue;
        }
        if l == "average_output" {
            continue;
        }
        let Some((key, value)) = l.split_once('=') else {
            return err(n, format!("expected `key=value`, found {:?}", clip(l)));
        };
        if !HEADER_KEYS.contains(&key) {
            return err(n, format!("unknown header key {:?}", clip(key)));
        }
        if value.contains('=') && key != "feature_names" && key != "monotone_constraints" {
            // LightGBM refuses these lines too; say so before it does.
            return err(n, format!("{key}: unexpected `=` in the value"));
        }
        if header.insert(key, Field { line: n, value }).is_some() {
            return err(n, format!("{key} is given twice"));
        }
    }
    let header_end = lines.get(i).map_or(text.len(), |(o, _)| *o);
    let last_header_line = i;
    let get = |key: &str| -> Result<&Field<'_>, FormatError> {
        header.get(key).map_or_else(
            || err(last_header_line, format!("the header has no {key}")),
            Ok,
        )
    };
    get("version")?;
    let f = get("num_class")?;
    let num_class: i32 = number(f.line, "num_class", f.value)?;
    if num_class < 1 {
        return err(f.line, format!("num_class must be ≥ 1, got {num_class}"));
    }
    let num_class = num_class as usize;
    let f = get("num_tree_per_iteration")?;
    let per_iter: i32 = number(f.line, "num_tree_per_iteration", f.value)?;
    if per_iter as i64 != num_class as i64 {
        return err(
            f.line,
            format!("num_tree_per_iteration = {per_iter} differs from num_class = {num_class}"),
        );
    }
    let f = get("label_index")?;
    number::<i32>(f.line, "label_index", f.value)?;
    let f = get("max_feature_idx")?;
    let max_feature_idx: i32 = number(f.line, "max_feature_idx", f.value)?;
    if max_feature_idx < 0 {
        return err(f.line, "max_feature_idx must be ≥ 0");
    }
    let n_features = max_feature_idx as usize + 1;
    for key in ["feature_names", "feature_infos"] {
        let f = get(key)?;
        let n = list(f.line, key, f.value)?.len();
        if n != n_features {
            return err(
                f.line,
                format!("{key} has {n} entries, max_feature_idx needs {n_features}"),
            );
        }
    }
    if let Some(f) = header.get("monotone_constraints") {
        let values: Vec<i8> = numbers(f.line, "monotone_constraints", f.value, n_features)?;
        if values.iter().any(|v| !(-1..=1).contains(v)) {
            return err(f.line, "monotone_constraints must be -1, 0 or 1");
        }
    }
    check_objective(get("objective")?, num_class)?;
    let f = get("tree_sizes")?;
    let tree_sizes: Vec<usize> = list(f.line, "tree_sizes", f.value)?
        .iter()
        .map(|t| number(f.line, "tree_sizes", t))
        .collect::<Result<_, _>>()?;
    if tree_sizes.is_empty() {
        // Without trees LightGBM would read the whole file, trailer included, as its header.
        return err(f.line, "the model has no trees");
    }
    if !tree_sizes.len().is_multiple_of(num_class) {
        return err(
            f.line,
            format!(
                "{} trees is not a whole number of iterations of {num_class} trees",
                tree_sizes.len()
            ),
        );
    }

    // Trees: each block is exactly tree_sizes[k] bytes, as LightGBM jumps by those offsets.
    let mut pos = header_end;
    let mut line_no = last_header_line + 1;
    for (k, &size) in tree_sizes.iter().enumerate() {
        let block = pos
            .checked_add(size)
            .and_then(|end| text.get(pos..end))
            .map_or_else(
                || {
                    err(
                        line_no,
                        format!("Tree={k}: tree_sizes says {size} bytes, which the file does not hold (truncated?)"),
                    )
                },
                Ok,
            )?;
        check_tree(block, k, line_no, n_features)?;
        line_no += block.matches('\n').count();
        pos += size;
    }
    let rest = &text[pos..];
    if !rest.starts_with("end of trees\n") {
        return err(
            line_no,
            "expected `end of trees` after the last tree (truncated or edited?)",
        );
    }
    check_trailer(&rest["end of trees\n".len()..], line_no + 1)?;
    Ok(ModelShape {
        num_class,
        n_features,
        n_trees: tree_sizes.len(),
    })
}

/// The 1-based line holding byte `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text.get(..pos).map_or(0, |t| t.matches('\n').count()) + 1
}

/// At most 60 characters of `s`, for messages that quote file content.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

/// The objective line: a known objective whose class count matches `num_class` (LightGBM sizes
/// its output conversion by the objective's own count) and a positive sigmoid where one is used.
fn check_objective(f: &Field<'_>, num_class: usize) -> Result<(), FormatError> {
    let tokens = list(f.line, "objective", f.value)?;
    let Some(name) = tokens.first() else {
        return err(f.line, "objective is empty");
    };
    if !OBJECTIVES.contains(name) {
        return err(
            f.line,
            format!("objective {:?} is not one hone trains", clip(name)),
        );
    }
    let mut options: BTreeMap<&str, &str> = BTreeMap::new();
    for t in &tokens[1..] {
        if let Some((k, v)) = t.split_once(':') {
            options.insert(k, v);
        }
    }
    let multi = *name == "multiclass" || *name == "multiclassova";
    if multi {
        let k: i32 = match options.get("num_class") {
            Some(v) => number(f.line, "objective num_class", v)?,
            None => return err(f.line, format!("objective {name} has no num_class")),
        };
        if k < 2 || k as usize != num_class {
            return err(
                f.line,
                format!("objective num_class:{k} differs from num_class = {num_class}"),
            );
        }
    } else if num_class != 1 {
        return err(
            f.line,
            format!("objective {name} gives one output, but num_class = {num_class}"),
        );
    }
    let needs_sigmoid = *name == "binary" || *name == "multiclassova";
    match options.get("sigmoid") {
        Some(v) => {
            let s: f64 = number(f.line, "objective sigmoid", v)?;
            if !(s.is_finite() && s > 0.0) {
                return err(f.line, format!("objective sigmoid must be > 0, got {v}"));
            }
        }
        None if needs_sigmoid => return err(f.line, format!("objective {name} has no sigmoid")),
        None => {}
    }
    Ok(())
}

/// One `Tree=k` block: its keys, every array's length and values, and the tree's shape.
fn check_tree(
    block: &str,
    k: usize,
    first_line: usize,
    n_features: usize,
) -> Result<(), FormatError> {
    let mut lines = block.split('\n');
    let title = format!("Tree={k}");
    if lines.next() != Some(title.as_str()) {
        return err(
            first_line,
            format!("expected `{title}` (tree_sizes do not match the trees)"),
        );
    }
    let mut fields: BTreeMap<&str, Field<'_>> = BTreeMap::new();
    let mut line = first_line;
    let mut closed = false;
    for l in lines.by_ref() {
        line += 1;
        if l.is_empty() {
            closed = true;
            break;
        }
        let Some((key, value)) = l.split_once('=') else {
            return err(
                line,
                format!("{title}: expected `key=value`, found {:?}", clip(l)),
            );
        };
        if !TREE_KEYS.contains(&key) {
            return err(line, format!("{title}: unknown key {:?}", clip(key)));
        }
        if fields.insert(key, Field { line, value }).is_some() {
            return err(line, format!("{title}: {key} is given twice"));
        }
    }
    // LightGBM reads a tree up to its blank line: the block must hold one, then only blank lines.
    if !closed || lines.any(|l| !l.is_empty()) {
        return err(
            line,
            format!("{title}: the tree does not end where tree_sizes says (truncated or edited?)"),
        );
    }
    let get = |key: &str| -> Result<&Field<'_>, FormatError> {
        fields
            .get(key)
            .map_or_else(|| err(first_line, format!("{title} has no {key}")), Ok)
    };
    let f = get("num_leaves")?;
    let leaves: i64 = number(f.line, "num_leaves", f.value)?;
    if !(1..=MAX_LEAVES as i64).contains(&leaves) {
        return err(
            f.line,
            format!("{title}: num_leaves must be in [1, {MAX_LEAVES}], got {leaves}"),
        );
    }
    let leaves = leaves as usize;
    let inner = leaves - 1;
    let f = get("num_cat")?;
    let num_cat: i64 = number(f.line, "num_cat", f.value)?;
    if !(0..=inner as i64).contains(&num_cat) {
        return err(
            f.line,
            format!("{title}: num_cat must be in [0, {inner}], got {num_cat}"),
        );
    }
    let num_cat = num_cat as usize;
    let ints = |key: &str, n: usize| -> Result<Vec<i32>, FormatError> {
        let f = get(key)?;
        numbers(f.line, key, f.value, n)
    };
    let floats = |key: &str, n: usize| -> Result<Vec<f64>, FormatError> {
        let f = get(key)?;
        numbers(f.line, key, f.value, n)
    };
    let split_feature = ints("split_feature", inner)?;
    if let Some(j) = split_feature
        .iter()
        .position(|&f| f < 0 || f as usize >= n_features)
    {
        return err(
            get("split_feature")?.line,
            format!(
                "{title}: split_feature {} is not a feature (0..{n_features})",
                split_feature[j]
            ),
        );
    }
    floats("split_gain", inner)?;
    let threshold = floats("threshold", inner)?;
    let decision_type = ints("decision_type", inner)?;
    // Bit 0: categorical, bit 1: default left, bits 2-3: missing type 0 (none), 1 (zero), 2 (NaN).
    if decision_type.iter().any(|&d| !(0..=11).contains(&d)) {
        return err(
            get("decision_type")?.line,
            format!("{title}: decision_type values must be in [0, 11]"),
        );
    }
    let left = ints("left_child", inner)?;
    let right = ints("right_child", inner)?;
    floats("leaf_value", leaves)?;
    floats("leaf_weight", leaves)?;
    ints("leaf_count", leaves)?;
    floats("internal_value", inner)?;
    floats("internal_weight", inner)?;
    ints("internal_count", inner)?;
    let f = get("shrinkage")?;
    number::<f64>(f.line, "shrinkage", f.value)?;

    // Categorical splits index cat_boundaries by their threshold.
    if num_cat > 0 {
        let bounds = ints("cat_boundaries", num_cat + 1)?;
        let f = get("cat_threshold")?;
        let words = list(f.line, "cat_threshold", f.value)?;
        for w in &words {
            number::<u32>(f.line, "cat_threshold", w)?;
        }
        let ok = bounds.first() == Some(&0)
            && bounds.windows(2).all(|w| w[0] <= w[1])
            && bounds.last().is_some_and(|&b| b as usize == words.len());
        if !ok {
            return err(
                get("cat_boundaries")?.line,
                format!("{title}: cat_boundaries must rise from 0 to the cat_threshold count"),
            );
        }
    } else if let Some(f) = fields.get("cat_boundaries").or(fields.get("cat_threshold")) {
        return err(
            f.line,
            format!("{title}: categorical data with num_cat = 0"),
        );
    }
    for (node, (&d, &t)) in decision_type.iter().zip(&threshold).enumerate() {
        if d & 1 == 1 && !(t.fract() == 0.0 && t >= 0.0 && t < num_cat as f64) {
            return err(
                get("threshold")?.line,
                format!("{title}: categorical split {node} has no category set {t}"),
            );
        }
    }

    // Linear leaves index the feature row by leaf_features.
    let f = get("is_linear")?;
    let linear = match f.value {
        "0" => false,
        "1" => true,
        v => {
            return err(
                f.line,
                format!("{title}: is_linear must be 0 or 1, got {:?}", clip(v)),
            );
        }
    };
    if linear {
        floats("leaf_const", leaves)?;
        let counts = ints("num_features", leaves)?;
        if counts.iter().any(|&c| c < 0 || c as usize > n_features) {
            return err(
                get("num_features")?.line,
                format!("{title}: num_features must be in [0, {n_features}]"),
            );
        }
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let f = get("leaf_features")?;
        // Leaves' groups are separated by a double space; LightGBM splits on ' ' alone, so any
        // other whitespace stays inside a token (and fails as a number here).
        let feats: Vec<&str> = f.value.split(' ').filter(|t| !t.is_empty()).collect();
        let g = get("leaf_coeff")?;
        let coeffs: Vec<&str> = g.value.split(' ').filter(|t| !t.is_empty()).collect();
        if feats.len() != total || coeffs.len() != total {
            return err(
                f.line,
                format!("{title}: leaf_features and leaf_coeff need {total} values each"),
            );
        }
        for t in &feats {
            let j: i32 = number(f.line, "leaf_features", t)?;
            if j < 0 || j as usize >= n_features {
                return err(
                    f.line,
                    format!("{title}: leaf feature {j} is not a feature (0..{n_features})"),
                );
            }
        }
        for t in &coeffs {
            number::<f64>(g.line, "leaf_coeff", t)?;
        }
    } else if let Some(f) = ["leaf_const", "num_features", "leaf_features", "leaf_coeff"]
        .iter()
        .find_map(|k| fields.get(k))
    {
        return err(
            f.line,
            format!("{title}: linear-leaf data with is_linear = 0"),
        );
    }

    // Shape: from the root, every internal node and every leaf is reached exactly once, so
    // prediction ends at a leaf and never indexes past the arrays.
    if inner > 0 {
        let mut seen_node = vec![false; inner];
        let mut seen_leaf = vec![false; leaves];
        let mut stack = vec![0usize];
        seen_node[0] = true;
        let bad = |m: String| err(get("left_child")?.line, format!("{title}: {m}"));
        while let Some(node) = stack.pop() {
            for child in [left[node], right[node]] {
                if child >= 0 {
                    let c = child as usize;
                    match seen_node.get_mut(c) {
                        None => return bad(format!("child {c} of node {node} does not exist")),
                        Some(true) => return bad(format!("node {c} is reached twice")),
                        Some(s) => {
                            *s = true;
                            stack.push(c);
                        }
                    }
                } else {
                    let leaf = !child as usize;
                    match seen_leaf.get_mut(leaf) {
                        None => return bad(format!("leaf {leaf} of node {node} does not exist")),
                        Some(true) => return bad(format!("leaf {leaf} is reached twice")),
                        Some(s) => *s = true,
                    }
                }
            }
        }
        if seen_node.iter().chain(&seen_leaf).any(|s| !s) {
            return bad("some nodes or leaves are not reachable from the root".into());
        }
    }
    Ok(())
}

/// What follows `end of trees`: feature importances, the training parameters, an optional
/// parser section and Python's `pandas_categorical` line, each complete.
fn check_trailer(rest: &str, first_line: usize) -> Result<(), FormatError> {
    let mut section = "";
    let mut parameters = false;
    let mut line = first_line;
    for l in rest.lines() {
        match (section, l) {
            (_, "") if section != "parameters:" && section != "parser:" => {}
            ("" | "feature_importances:", "feature_importances:" | "parameters:" | "parser:") => {
                parameters |= l == "parameters:";
                section = l;
            }
            ("feature_importances:", _) if l.contains('=') => {}
            ("parameters:", "end of parameters") | ("parser:", "end of parser") => section = "",
            ("parameters:" | "parser:", _) => {}
            ("" | "feature_importances:", _) if l.starts_with("pandas_categorical:") => {
                section = "pandas";
            }
            _ => {
                return err(
                    line,
                    format!("unexpected line after the trees: {:?}", clip(l)),
                );
            }
        }
        line += 1;
    }
    if section == "parameters:" || section == "parser:" || !parameters {
        let name = if parameters {
            section.trim_end_matches(':')
        } else {
            "parameters"
        };
        return err(
            line,
            format!("the {name} section is missing or unfinished (truncated?)"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-tree binary model in LightGBM's layout, tree_sizes computed from the blocks.
    pub(crate) fn sample() -> String {
        let tree = |k: usize| {
            format!(
                "Tree={k}\nnum_leaves=3\nnum_cat=0\nsplit_feature=1 0\nsplit_gain=2.5 1.25\n\
                 threshold=0.5 -1.0000000180025095e-35\ndecision_type=2 10\nleft_child=1 -1\n\
                 right_child=-2 -3\nleaf_value=0.1 -0.2 0.30000000000000004\n\
                 leaf_weight=10 20 30\nleaf_count=10 20 30\ninternal_value=0 0.5\n\
                 internal_weight=60 30\ninternal_count=60 30\nis_linear=0\nshrinkage=1\n\n\n"
            )
        };
        let trees: Vec<String> = (0..2).map(tree).collect();
        let sizes: Vec<String> = trees.iter().map(|t| t.len().to_string()).collect();
        format!(
            "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
             max_feature_idx=1\nobjective=binary sigmoid:1\nfeature_names=x y\n\
             feature_infos=[-1:1] [0:2]\ntree_sizes={}\n\n{}end of trees\n\n\
             feature_importances:\ny=2\nx=2\n\nparameters:\n[boosting: gbdt]\n\
             [linear_tree: 0]\n\nend of parameters\n",
            sizes.join(" "),
            trees.concat()
        )
    }

    #[test]
    fn accepts_lightgbms_layout() {
        let shape = validate(&sample()).unwrap();
        assert_eq!(
            shape,
            ModelShape {
                num_class: 1,
                n_features: 2,
                n_trees: 2
            }
        );
    }

    /// `text` with tree_sizes recomputed from its `Tree=` blocks, as after an edit of a tree.
    fn resized(text: &str) -> String {
        let (start, end) = (
            text.find("Tree=0\n").unwrap(),
            text.find("end of trees\n").unwrap(),
        );
        let trees = &text[start..end];
        let starts: Vec<usize> = trees.match_indices("\nTree=").map(|(i, _)| i + 1).collect();
        let sizes: Vec<String> = std::iter::once(0)
            .chain(starts.iter().copied())
            .zip(starts.iter().copied().chain([trees.len()]))
            .map(|(a, b)| (b - a).to_string())
            .collect();
        let line = text.lines().find(|l| l.starts_with("tree_sizes=")).unwrap();
        text.replacen(line, &format!("tree_sizes={}", sizes.join(" ")), 1)
    }

    #[test]
    fn refuses_inconsistent_trees() {
        let s = sample();
        assert_eq!(resized(&s), s);
        assert!(
            validate(&resized(&s.replacen(
                "split_gain=2.5",
                "split_gain=2.50",
                1
            )))
            .is_ok()
        );
        for (from, to, want) in [
            ("left_child=1 -1", "left_child=0 -1", "reached twice"),
            ("left_child=1 -1", "left_child=1 -7", "does not exist"),
            ("split_feature=1 0", "split_feature=2 0", "not a feature"),
            ("split_feature=1 0", "split_feature=1", "has 1 values"),
            ("num_class=1", "num_class=3", "differs from num_class"),
            (
                "num_leaves=3",
                "num_leaves=4294967299",
                "must be in [1, 131072]",
            ),
            ("num_leaves=3", "num_leaves=3.0", "not a valid number"),
            (
                "decision_type=2 10",
                "decision_type=3 10",
                "no category set",
            ),
            (
                "objective=binary sigmoid:1",
                "objective=",
                "objective is empty",
            ),
            ("end of parameters\n", "", "unfinished"),
            (
                "tree_sizes=",
                "tree_sizes=99999",
                "which the file does not hold",
            ),
        ] {
            let edited = s.replacen(from, to, 1);
            let edited = if from.starts_with("tree_sizes") {
                edited
            } else {
                resized(&edited)
            };
            let e = validate(&edited).unwrap_err().to_string();
            assert!(e.contains(want), "{from} → {to}: {e}");
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        // The sample ends with `end of parameters`: every shorter prefix is incomplete.
        let s = sample();
        for cut in 0..s.len() {
            assert!(validate(&s[..cut]).is_err(), "cut at {cut}");
        }
    }
}
