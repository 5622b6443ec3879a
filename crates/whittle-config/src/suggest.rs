//! "Did you mean …?" suggestions by edit distance.

/// Edit distance over characters where an adjacent transposition counts as one edit
/// (optimal string alignment). Inputs are short keys; the caller bounds their length.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    if word.chars().count() > 64 {
        return None;
    }
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let w = norm(word);
    let limit = (w.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let nc = norm(c);
        // A long-enough prefix (`dir` for `directory`) counts as a near miss.
        let d = if w.chars().count() >= 3 && nc.starts_with(&w) && nc != w {
            1
        } else {
            distance(&w, &nc)
        };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `"; did you mean `x`?"`-style hint text for an unknown name.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("entrypoin", "entrypoint"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("arm46", "arm64"), 1);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn closest_picks_typo_not_unrelated() {
        let c = ["entrypoint", "cmd", "work-dir"];
        assert_eq!(closest("entrypoin", c), Some("entrypoint"));
        assert_eq!(closest("workdir", c), Some("work-dir"));
        assert_eq!(closest("work_dir", c), Some("work-dir"));
        assert_eq!(closest("volumes", c), None);
        assert_eq!(closest("entry", c), Some("entrypoint"));
        assert_eq!(closest("xyz", c), None);
    }
}
