//! "Did you mean" hints for misspelt names: config keys, model types, parameters, flags.

/// Edit distance, for "did you mean" hints.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo: at most
/// 3 edits (a third of a long name), and fewer edits than either word has characters, so that
/// a word sharing nothing with a name (`zzz` and `gap`) suggests nothing.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
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
