//! "Did you mean" hints for names in expressions and column lists (hone-data depends on no
//! other hone crate, so it keeps this small copy of the rule `hone_models::suggest` uses).

/// Edit distance between two words.
fn levenshtein(a: &str, b: &str) -> usize {
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

/// The closest of `candidates` to `word` when it is a likely typo: at most 3 edits (a third of a
/// long name) and fewer edits than either word has characters. Case differences count as one
/// edit each, so `Close` suggests `close`.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3) && *d < len.min(c.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_likely_typos_only() {
        assert_eq!(super::nearest("clse", ["close", "volume"]), Some("close"));
        assert_eq!(super::nearest("zzz", ["close", "low"]), None);
    }
}
