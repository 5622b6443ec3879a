//! The one retry policy of the registry code: `retries` more attempts after the first, waiting
//! `backoff`, then twice that, … (capped at 30 s) between them, only for errors that may pass.

use std::time::Duration;

use crate::Options;

/// The wait before retry number `retry` (1 for the first retry).
pub(crate) fn delay(opts: &Options, retry: u32) -> Duration {
    opts.backoff
        .saturating_mul(1u32 << retry.saturating_sub(1).min(10))
        .min(Duration::from_secs(30))
}

/// Runs `attempt(n)` for n = 1, 2, … until it succeeds, fails with an error `transient` does not
/// accept, or `opts.retries` retries are spent; sleeps [`delay`] between attempts.
pub(crate) fn retrying<T, E>(
    opts: &Options,
    transient: impl Fn(&E) -> bool,
    mut attempt: impl FnMut(u32) -> Result<T, E>,
) -> Result<T, E> {
    let mut n = 1;
    loop {
        match attempt(n) {
            Err(e) if n <= opts.retries && transient(&e) => {
                std::thread::sleep(delay(opts, n));
                n += 1;
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(retries: u32) -> Options {
        Options {
            retries,
            backoff: Duration::from_millis(1),
            ..Options::default()
        }
    }

    #[test]
    fn retries_transient_errors_up_to_the_limit_then_gives_the_last_error() {
        let mut seen = Vec::new();
        let r: Result<(), u32> = retrying(
            &opts(3),
            |_| true,
            |n| {
                seen.push(n);
                Err(n)
            },
        );
        assert_eq!(r, Err(4));
        assert_eq!(seen, [1, 2, 3, 4]);
    }

    #[test]
    fn stops_at_success_or_at_a_permanent_error() {
        let r: Result<u32, u32> =
            retrying(&opts(5), |_| true, |n| if n < 3 { Err(n) } else { Ok(n) });
        assert_eq!(r, Ok(3));
        let mut calls = 0;
        let r: Result<(), &str> = retrying(
            &opts(5),
            |e| *e != "permanent",
            |_| {
                calls += 1;
                Err("permanent")
            },
        );
        assert_eq!((r, calls), (Err("permanent"), 1));
    }

    #[test]
    fn delays_double_and_are_capped() {
        let o = Options {
            backoff: Duration::from_millis(500),
            ..Options::default()
        };
        assert_eq!(delay(&o, 1), Duration::from_millis(500));
        assert_eq!(delay(&o, 2), Duration::from_secs(1));
        assert_eq!(delay(&o, 3), Duration::from_secs(2));
        assert_eq!(delay(&o, 40), Duration::from_secs(30));
    }
}
