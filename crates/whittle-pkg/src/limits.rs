//! The limits of a recipe's sandboxed steps — `package.timeout` and `package.resources`
//! (`processes`, `memory`) — their defaults, and the text forms recipes write them in: Go
//! durations as melange reads them (`90s`, `2h`, `1h30m`) and Kubernetes-style quantities
//! (`512Mi`, `8Gi`, `2G`, or bytes).

use std::time::Duration;

/// Processes (and threads) a step may have at once unless the recipe says otherwise.
pub const DEFAULT_PROCESSES: u64 = 4096;
/// Memory a step's processes may use together unless the recipe says otherwise.
pub const DEFAULT_MEMORY: u64 = 8 << 30;
/// Wall time all the steps of a build may take together unless the recipe says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The sandbox itself (bwrap and the shell) needs a few processes.
pub const MIN_PROCESSES: u64 = 8;
/// The kernel's highest `pid_max`.
pub const MAX_PROCESSES: u64 = 1 << 22;
/// Less than this cannot start a shell reliably.
pub const MIN_MEMORY: u64 = 16 << 20;
/// 1 PiB.
pub const MAX_MEMORY: u64 = 1 << 50;
/// 30 days.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the sandboxed steps of one build may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `package.resources.processes`: processes and threads a step may have at once.
    pub processes: u64,
    /// `package.resources.memory`: bytes of memory a step's processes may use together.
    pub memory: u64,
    /// `package.timeout`: wall time all the steps may take together.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            processes: DEFAULT_PROCESSES,
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A Go duration (`300ms`, `90s`, `2h`, `1h30m`, `1.5h`; units `ns`, `us`, `ms`, `s`, `m`,
/// `h`), as melange reads `package.timeout`. Zero, negative and unit-less values are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = "write a duration with its unit, e.g. 90s, 45m or 2h";
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("empty duration; {hint}"));
    }
    if s.starts_with('-') {
        return Err(format!("`{s}` is negative; {hint}"));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("`{s}` has a number without a unit; {hint}")),
            other => return Err(format!("`{s}` has an unknown unit `{other}`; {hint}")),
        };
        total = total.saturating_add(
            decimal_times(number, nanos)
                .ok_or_else(|| format!("`{s}` is not a duration; {hint}"))?,
        );
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).unwrap_or(u64::MAX);
    let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    let d = Duration::new(secs, nanos);
    if d.is_zero() {
        return Err(format!("`{s}` is zero; {hint}"));
    }
    Ok(d)
}

/// `number` (digits with an optional fraction) times `unit`, or `None` when it is not a number
/// or too large to matter.
fn decimal_times(number: &str, unit: u128) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if int.len() > 20 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // the fraction, to the unit's smallest part (digits past the 18th do not count)
    let frac = frac.get(..frac.len().min(18)).unwrap_or_default();
    let part: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10u128.pow(u32::try_from(frac.len()).ok()?);
    whole
        .checked_mul(unit)?
        .checked_add(part.checked_mul(unit)? / scale)
}

/// `d` the way recipes write it: `2s`, `1h30m`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    } else if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A Kubernetes-style quantity of bytes, as melange reads `package.resources.memory`: bytes,
/// or a number with `Ki`, `Mi`, `Gi`, `Ti`, `Pi` (powers of 1024) or `k`, `K`, `M`, `G`, `T`,
/// `P` (powers of 1000); `1.5Gi` is allowed.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let hint =
        "write bytes or a number with Ki, Mi, Gi (1024) or k, M, G (1000), e.g. 512Mi or 8Gi";
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let unit: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        other => return Err(format!("`{s}` has an unknown unit `{other}`; {hint}")),
    };
    let n = decimal_times(number, unit).ok_or_else(|| format!("`{s}` is not a size; {hint}"))?;
    u64::try_from(n).map_err(|_| format!("`{s}` is too large; {hint}"))
}

/// `n` bytes the way recipes write it: `64Mi`, `8Gi`, or the number of bytes.
pub fn format_bytes(n: u64) -> String {
    for (suffix, shift) in [("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if n != 0 && n.trailing_zeros() >= shift {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_are_read_as_go_writes_them() {
        for (text, secs, nanos) in [
            ("2s", 2, 0),
            ("90m", 5400, 0),
            ("1h30m", 5400, 0),
            ("1.5h", 5400, 0),
            ("250ms", 0, 250_000_000),
            ("1m0.5s", 60, 500_000_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::new(secs, nanos)),
                "{text}"
            );
        }
        for bad in ["", "10", "-5s", "0s", "2 days", "5d", "s", "1.2.3s", "h1"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("e.g. 90s"), "{bad}: {e}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(250)), "0.25s");
        assert_eq!(format_duration(DEFAULT_TIMEOUT), "1h");
    }

    #[test]
    fn sizes_are_read_as_kubernetes_writes_them() {
        for (text, n) in [
            ("64Mi", 64 << 20),
            ("8Gi", 8 << 30),
            ("1.5Gi", 3 << 29),
            ("2G", 2_000_000_000),
            ("512k", 512_000),
            ("1048576", 1 << 20),
        ] {
            assert_eq!(parse_bytes(text), Ok(n), "{text}");
        }
        for bad in ["", "64MB", "lots", "1e9", "-1", "99999999999999999999Pi"] {
            let e = parse_bytes(bad).unwrap_err();
            assert!(e.contains("512Mi"), "{bad}: {e}");
        }
        assert_eq!(format_bytes(64 << 20), "64Mi");
        assert_eq!(format_bytes(DEFAULT_MEMORY), "8Gi");
        assert_eq!(format_bytes(1000), "1000");
    }

    proptest! {
        #[test]
        fn duration_parsing_never_panics(s in "\\PC{0,40}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn size_parsing_never_panics(s in "\\PC{0,40}") {
            let _ = parse_bytes(&s);
        }

        #[test]
        fn formatted_durations_read_back(secs in 1u64..10_000_000, ms in 0u32..1000) {
            let d = Duration::new(secs, ms * 1_000_000);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn formatted_sizes_read_back(n in 1u64..(1 << 50)) {
            prop_assert_eq!(parse_bytes(&format_bytes(n)), Ok(n));
        }
    }
}
