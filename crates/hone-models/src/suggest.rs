//! "Did you mean" hints for misspelt names: config keys, model types, parameters, flags.

/// Edit distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    // Optimal string alignment: insertions, deletions, substitutions and transpositions of two
    // adjacent characters each count one edit (`maen` is one edit from `mean`, two from `max`).
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo: at most
/// 3 edits (a third of a long name), and fewer edits than either word has characters, so that
/// a word sharing nothing with a name (`zzz` and `gap`) suggests nothing.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3) && *d < len.min(c.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Adds "did you mean" to serde's `unknown field` / `unknown variant` messages.
pub fn with_suggestion(message: &str) -> String {
    let grab = |s: &str| -> Option<(String, Vec<String>)> {
        let start = s.find('`')? + 1;
        let end = start + s[start..].find('`')?;
        let word = s[start..end].to_string();
        let rest = &s[end + 1..];
        let expected: Vec<String> = rest
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, w)| w.to_string())
            .collect();
        Some((word, expected))
    };
    if (message.contains("unknown field") || message.contains("unknown variant"))
        && let Some((word, expected)) = grab(message)
        && let Some(best) = nearest(&word, expected.iter().map(String::as_str))
    {
        return format!("{message}; did you mean `{best}`?");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposition_is_one_edit() {
        assert_eq!(edit_distance("maen", "mean"), 1);
        assert_eq!(edit_distance("maen", "max"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            nearest("cv.roc_auc.maen", ["cv.roc_auc.max", "cv.roc_auc.mean"]),
            Some("cv.roc_auc.mean")
        );
    }

    #[test]
    fn suggestions_need_some_likeness() {
        assert_eq!(nearest("zzz", ["gap", "seed"]), None);
        assert_eq!(nearest("n_split", ["n_splits", "gap"]), Some("n_splits"));
        assert_eq!(nearest("aplha", ["alpha", "l1_ratio"]), Some("alpha"));
        assert_eq!(
            nearest("lightgmb", ["lightgbm", "linear"]),
            Some("lightgbm")
        );
        assert_eq!(
            nearest("early_stoping_rounds", ["early_stopping_rounds"]),
            Some("early_stopping_rounds")
        );
    }
}
