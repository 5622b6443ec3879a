//! Finds secrets in bytes, names and assignments: private keys, cloud and SaaS tokens, JWTs and
//! high-entropy `password=`/`secret=` values in file contents; secret-looking file names (`.env`,
//! `id_rsa`, `*.pem`, …); and secret name/value pairs (`ENV`, `ARG`, labels). Every match carries
//! redacted evidence only — never the secret itself.
//!
//! Speed matters: [`scan`] runs over every text file of an image. Binary (NUL-heavy) data is
//! skipped after a look at its first bytes, candidates are found by one SIMD multi-pattern search
//! (`aho-corasick`'s Teddy) over at most [`scan_prefix_limit`] bytes, and only candidates are
//! looked at closely.

use aho_corasick::packed::{self, MatchKind};
use std::sync::LazyLock;

/// One secret found by [`scan`] or [`secret_assignment`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretMatch {
    /// A stable rule id, kebab-case (`aws-access-key-id`, `private-key`, `password-assignment`).
    pub rule: &'static str,
    /// What the rule found, for people (`AWS access key id`).
    pub description: &'static str,
    /// The 1-based line of the match in the scanned data (1 for [`secret_assignment`]).
    pub line: usize,
    /// Redacted evidence: at most the first 4 and the last 2 characters (`AKIA…LE`).
    pub redacted: String,
}

/// How many bytes of a file [`scan`] looks at: 1 MiB. Secrets live in small text files; bytes
/// past this prefix are ignored, which bounds the time and memory spent on any one file.
pub fn scan_prefix_limit() -> usize {
    SCAN_PREFIX_LIMIT
}

const SCAN_PREFIX_LIMIT: usize = 1 << 20;
/// At most this many matches are returned by one [`scan`].
const MAX_MATCHES: usize = 64;
/// Longest value an assignment rule looks at.
const MAX_VALUE: usize = 256;
/// Longest key name an assignment rule looks at.
const MAX_KEY: usize = 64;
/// Minimum Shannon entropy (bits per byte) of a generic `password=`/`secret=` value.
const MIN_ENTROPY: f64 = 3.0;
/// Minimum length of a generic `password=`/`secret=` value found in file contents.
const MIN_GENERIC_LEN: usize = 8;

/// One piece of a token's shape: a literal, or a run of `min..=max` bytes of a class.
#[derive(Clone, Copy)]
enum Seg {
    Lit(&'static str),
    Run(fn(u8) -> bool, usize, usize),
}

/// The shape of one kind of secret: the rule it reports and the pieces that follow an anchor
/// (a token's prefix, or the quote that opens a vendor key's value).
struct Shape {
    rule: &'static str,
    segs: &'static [Seg],
    /// The value stands between quotes (`'…'` or `"…"`).
    quoted: bool,
}

const fn shape(rule: &'static str, segs: &'static [Seg]) -> Shape {
    Shape {
        rule,
        segs,
        quoted: false,
    }
}

const fn quoted(rule: &'static str, segs: &'static [Seg]) -> Shape {
    Shape {
        rule,
        segs,
        quoted: true,
    }
}

use Seg::{Lit, Run};

/// What a candidate anchor in [`PATTERNS`] starts.
#[derive(Clone, Copy)]
enum Kind {
    /// A token that starts with the anchor, on a word boundary; the first shape that fits wins.
    Token(&'static [Shape]),
    /// A vendor's name in a key (`heroku_api_key = "…"`): a connector, then a value of a shape.
    Vendor(&'static [Shape]),
    PrivateKey,
    AwsSecret,
    Jwt,
    NpmAuth,
    Terraform,
    GcpServiceAccount,
    DockerCfg,
    DockerAuth,
    Keyword,
}

const UUID: &[Seg] = &[
    Run(hex, 8, 8),
    Lit("-"),
    Run(hex, 4, 4),
    Lit("-"),
    Run(hex, 4, 4),
    Lit("-"),
    Run(hex, 4, 4),
    Lit("-"),
    Run(hex, 12, 12),
];
const GITHUB: &[Shape] = &[shape("github-pat", &[Run(alnum, 36, 36)])];
const AWS_ID: &[Shape] = &[shape("aws-access-key-id", &[Run(upper_digit, 16, 16)])];
const STRIPE_PK: &[Shape] = &[shape("stripe-publishable-token", &[Run(alnum, 10, 32)])];
const STRIPE_SK: &[Shape] = &[shape("stripe-secret-token", &[Run(alnum, 10, 99)])];
const SLACK: &[Shape] = &[shape(
    "slack-access-token",
    &[Run(slack_char, 10, MAX_VALUE)],
)];
const SHOPIFY: &[Shape] = &[shape("shopify-token", &[Run(hex, 32, 32)])];

/// Vendors whose keys are recognised by the vendor's name in the key and the value's shape.
const VENDORS: &[(&str, &[Shape])] = &[
    ("heroku", &[quoted("heroku-api-key", UUID)]),
    ("facebook", &[quoted("facebook-token", &[Run(hex, 32, 32)])]),
    ("twitter", &[quoted("twitter-token", &[Run(hex, 35, 44)])]),
    ("adobe", &[quoted("adobe-client-id", &[Run(hex, 32, 32)])]),
    (
        "alibaba",
        &[quoted("alibaba-secret-key", &[Run(alnum, 30, 30)])],
    ),
    (
        "asana",
        &[
            quoted("asana-client-id", &[Run(digit, 16, 16)]),
            quoted("asana-client-secret", &[Run(alnum, 32, 32)]),
        ],
    ),
    (
        "atlassian",
        &[quoted("atlassian-api-token", &[Run(alnum, 24, 24)])],
    ),
    (
        "bitbucket",
        &[
            quoted("bitbucket-client-id", &[Run(alnum, 32, 32)]),
            quoted("bitbucket-client-secret", &[Run(token_char, 64, 64)]),
        ],
    ),
    (
        "beamer",
        &[quoted(
            "beamer-api-token",
            &[Lit("b_"), Run(tok_eq, 44, 44)],
        )],
    ),
    (
        "contentful",
        &[quoted(
            "contentful-delivery-api-token",
            &[Run(tok_eq, 43, 43)],
        )],
    ),
    (
        "discord",
        &[
            quoted("discord-api-token", &[Run(a_to_h, 64, 64)]),
            quoted("discord-client-id", &[Run(digit, 18, 18)]),
            quoted("discord-client-secret", &[Run(tok_eq, 32, 32)]),
        ],
    ),
    (
        "dropbox",
        &[
            quoted("dropbox-api-secret", &[Run(alnum, 15, 15)]),
            quoted(
                "dropbox-short-lived-api-token",
                &[Lit("sl."), Run(tok_eq, 135, 135)],
            ),
            quoted(
                "dropbox-long-lived-api-token",
                &[Run(alnum, 11, 11), Lit("AAAAAAAAAA"), Run(tok_eq, 43, 43)],
            ),
        ],
    ),
    (
        "fastly",
        &[quoted("fastly-api-token", &[Run(tok_eq, 32, 32)])],
    ),
    (
        "finicity",
        &[
            quoted("finicity-client-secret", &[Run(alnum, 20, 20)]),
            quoted("finicity-api-token", &[Run(hex, 32, 32)]),
        ],
    ),
    ("hubspot", &[quoted("hubspot-api-token", UUID)]),
    (
        "intercom",
        &[
            quoted("intercom-api-token", &[Run(word_eq, 60, 60)]),
            quoted("intercom-client-secret", UUID),
        ],
    ),
    (
        "ionic",
        &[quoted(
            "ionic-api-token",
            &[Lit("ion_"), Run(alnum, 42, 42)],
        )],
    ),
    (
        "linear",
        &[quoted("linear-client-secret", &[Run(hex, 32, 32)])],
    ),
    (
        "lob",
        &[
            quoted("lob-api-key", &[Lit("live_"), Run(hex, 35, 35)]),
            quoted("lob-api-key", &[Lit("test_"), Run(hex, 35, 35)]),
            quoted("lob-pub-api-key", &[Lit("live_pub_"), Run(hex, 31, 31)]),
            quoted("lob-pub-api-key", &[Lit("test_pub_"), Run(hex, 31, 31)]),
        ],
    ),
    (
        "mailchimp",
        &[quoted(
            "mailchimp-api-key",
            &[Run(hex, 32, 32), Lit("-us"), Run(digit, 1, 2)],
        )],
    ),
    (
        "mailgun",
        &[
            quoted("mailgun-token", &[Lit("key-"), Run(hex, 32, 32)]),
            quoted("mailgun-token", &[Lit("pubkey-"), Run(hex, 32, 32)]),
            quoted(
                "mailgun-signing-key",
                &[
                    Run(hex, 32, 32),
                    Lit("-"),
                    Run(hex, 8, 8),
                    Lit("-"),
                    Run(hex, 8, 8),
                ],
            ),
        ],
    ),
    (
        "messagebird",
        &[
            quoted("messagebird-api-token", &[Run(alnum, 25, 25)]),
            quoted("messagebird-client-id", UUID),
        ],
    ),
    (
        "newrelic",
        &[quoted("new-relic-user-api-id", &[Run(alnum, 64, 64)])],
    ),
    (
        "linkedin",
        &[
            quoted("linkedin-client-secret", &[Run(alpha, 16, 16)]),
            quoted("linkedin-client-id", &[Run(alnum, 14, 14)]),
        ],
    ),
    (
        "twitch",
        &[quoted("twitch-api-token", &[Run(alnum, 30, 30)])],
    ),
    (
        "typeform",
        &[shape(
            "typeform-api-token",
            &[Lit("tfp_"), Run(tfp_char, 59, 59)],
        )],
    ),
];

/// Every anchor of a token, case-sensitive. Where two anchors start at one place the first
/// listed wins, so longer anchors come first.
const PATTERNS: &[(&str, Kind)] = &[
    ("PRIVATE KEY-----", Kind::PrivateKey),
    ("PRIVATE KEY BLOCK-----", Kind::PrivateKey),
    ("AKIA", Kind::Token(AWS_ID)),
    ("ASIA", Kind::Token(AWS_ID)),
    ("AGPA", Kind::Token(AWS_ID)),
    ("AIDA", Kind::Token(AWS_ID)),
    ("AROA", Kind::Token(AWS_ID)),
    ("AIPA", Kind::Token(AWS_ID)),
    ("ANPA", Kind::Token(AWS_ID)),
    ("ANVA", Kind::Token(AWS_ID)),
    (
        "A3T",
        Kind::Token(&[shape("aws-access-key-id", &[Run(upper_digit, 17, 17)])]),
    ),
    ("ghp_", Kind::Token(GITHUB)),
    (
        "gho_",
        Kind::Token(&[shape("github-oauth", &[Run(alnum, 36, 36)])]),
    ),
    (
        "ghu_",
        Kind::Token(&[shape("github-app-token", &[Run(alnum, 36, 36)])]),
    ),
    (
        "ghs_",
        Kind::Token(&[shape("github-app-token", &[Run(alnum, 36, 36)])]),
    ),
    (
        "ghr_",
        Kind::Token(&[shape("github-refresh-token", &[Run(alnum, 36, 76)])]),
    ),
    (
        "github_pat_",
        Kind::Token(&[shape(
            "github-fine-grained-pat",
            &[Run(word, 40, MAX_VALUE)],
        )]),
    ),
    (
        "glpat-",
        Kind::Token(&[shape("gitlab-pat", &[Run(token_char, 20, MAX_VALUE)])]),
    ),
    (
        "hf_",
        Kind::Token(&[shape("hugging-face-access-token", &[Run(alnum, 34, 40)])]),
    ),
    ("shpss_", Kind::Token(SHOPIFY)),
    ("shpat_", Kind::Token(SHOPIFY)),
    ("shpca_", Kind::Token(SHOPIFY)),
    ("shppa_", Kind::Token(SHOPIFY)),
    ("xoxb-", Kind::Token(SLACK)),
    ("xoxa-", Kind::Token(SLACK)),
    ("xoxp-", Kind::Token(SLACK)),
    ("xoxr-", Kind::Token(SLACK)),
    ("xoxs-", Kind::Token(SLACK)),
    ("pk_test_", Kind::Token(STRIPE_PK)),
    ("pk_live_", Kind::Token(STRIPE_PK)),
    ("sk_test_", Kind::Token(STRIPE_SK)),
    ("sk_live_", Kind::Token(STRIPE_SK)),
    (
        "pypi-AgEIcHlwaS5vcmc",
        Kind::Token(&[shape("pypi-upload-token", &[Run(token_char, 50, 1000)])]),
    ),
    ("\"service_account\"", Kind::GcpServiceAccount),
    (
        "https://hooks.slack.com/services/",
        Kind::Token(&[shape("slack-web-hook", &[Run(b64_no_pad, 44, 48)])]),
    ),
    (
        "SK",
        Kind::Token(&[shape("twilio-api-key", &[Run(hex, 32, 32)])]),
    ),
    (
        "AGE-SECRET-KEY-1",
        Kind::Token(&[shape("age-secret-key", &[Run(bech32, 58, 58)])]),
    ),
    (
        "p8e-",
        Kind::Token(&[shape("adobe-client-secret", &[Run(alnum, 32, 32)])]),
    ),
    (
        "LTAI",
        Kind::Token(&[shape("alibaba-access-key-id", &[Run(alnum, 20, 20)])]),
    ),
    (
        "CLOJARS_",
        Kind::Token(&[shape("clojars-api-token", &[Run(alnum, 60, 60)])]),
    ),
    (
        "dapi",
        Kind::Token(&[shape("databricks-api-token", &[Run(a_to_h_lower, 32, 32)])]),
    ),
    (
        "dp.pt.",
        Kind::Token(&[shape("doppler-api-token", &[Run(alnum, 43, 43)])]),
    ),
    (
        "duffel_",
        Kind::Token(&[
            shape("duffel-api-token", &[Lit("test_"), Run(token_char, 43, 43)]),
            shape("duffel-api-token", &[Lit("live_"), Run(token_char, 43, 43)]),
        ]),
    ),
    (
        "dt0c01.",
        Kind::Token(&[shape(
            "dynatrace-api-token",
            &[Run(alnum, 24, 24), Lit("."), Run(alnum, 64, 64)],
        )]),
    ),
    (
        "EZA",
        Kind::Token(&[
            shape("easypost-api-token", &[Lit("K"), Run(alnum, 54, 54)]),
            shape("easypost-api-token", &[Lit("T"), Run(alnum, 54, 54)]),
        ]),
    ),
    (
        "FLWSECK_TEST",
        Kind::Token(&[
            shape(
                "flutterwave-public-key",
                &[Lit("-"), Run(a_to_h, 32, 32), Lit("-X")],
            ),
            shape("flutterwave-enc-key", &[Run(a_to_h_lower, 12, 12)]),
        ]),
    ),
    (
        "FLWPUBK_TEST-",
        Kind::Token(&[shape(
            "flutterwave-public-key",
            &[Run(a_to_h, 32, 32), Lit("-X")],
        )]),
    ),
    (
        "fio-u-",
        Kind::Token(&[shape("frameio-api-token", &[Run(tok_eq, 64, 64)])]),
    ),
    (
        "live_",
        Kind::Token(&[quoted("gocardless-api-token", &[Run(tok_eq, 40, 40)])]),
    ),
    (
        "eyJrIjoi",
        Kind::Token(&[shape("grafana-api-token", &[Run(tok_eq, 72, 92)])]),
    ),
    (".atlasv1.", Kind::Terraform),
    ("eyJ", Kind::Jwt),
    (
        "lin_api_",
        Kind::Token(&[shape("linear-api-token", &[Run(alnum, 40, 40)])]),
    ),
    (
        "NRAK-",
        Kind::Token(&[shape("new-relic-user-api-key", &[Run(upper_digit, 27, 27)])]),
    ),
    (
        "NRJS-",
        Kind::Token(&[shape(
            "new-relic-browser-api-token",
            &[Run(hex_lower, 19, 19)],
        )]),
    ),
    ("_authToken", Kind::NpmAuth),
    (
        "npm_",
        Kind::Token(&[shape("npm-access-token", &[Run(alnum, 36, 36)])]),
    ),
    (
        "pscale_",
        Kind::Token(&[
            shape("planetscale-password", &[Lit("pw_"), Run(tok_dot, 43, 43)]),
            shape(
                "planetscale-api-token",
                &[Lit("tkn_"), Run(tok_dot, 43, 43)],
            ),
        ]),
    ),
    (
        "packagist_",
        Kind::Token(&[shape(
            "private-packagist-token",
            &[
                Run(o_or_u, 1, 1),
                Run(r_or_u, 1, 1),
                Lit("t_"),
                Run(hex, 68, 68),
            ],
        )]),
    ),
    (
        "PMAK-",
        Kind::Token(&[shape(
            "postman-api-token",
            &[Run(hex, 24, 24), Lit("-"), Run(hex, 34, 34)],
        )]),
    ),
    (
        "pul-",
        Kind::Token(&[shape("pulumi-api-token", &[Run(hex_lower, 40, 40)])]),
    ),
    (
        "rubygems_",
        Kind::Token(&[shape("rubygems-api-token", &[Run(hex_lower, 48, 48)])]),
    ),
    (
        "SG.",
        Kind::Token(&[shape("sendgrid-api-token", &[Run(tok_dot, 66, 66)])]),
    ),
    (
        "xkeysib-",
        Kind::Token(&[shape(
            "sendinblue-api-token",
            &[Run(hex_lower, 64, 64), Lit("-"), Run(alnum, 16, 16)],
        )]),
    ),
    (
        "shippo_",
        Kind::Token(&[
            shape("shippo-api-token", &[Lit("live_"), Run(hex_lower, 40, 40)]),
            shape("shippo-api-token", &[Lit("test_"), Run(hex_lower, 40, 40)]),
        ]),
    ),
    (
        "pk.",
        Kind::Token(&[shape(
            "mapbox-api-token",
            &[Run(alnum, 60, 60), Lit("."), Run(alnum, 22, 22)],
        )]),
    ),
    (
        "AIza",
        Kind::Token(&[shape("google-api-key", &[Run(token_char, 35, 35)])]),
    ),
    (".dockerc", Kind::DockerCfg),
    ("\"auth\"", Kind::DockerAuth),
];

/// Words matched in any case (they are searched in a lowercased copy of the data): the names of
/// generic secret keys and `aws` for AWS secret keys. Each is found by its rarest part of 4
/// bytes (few false candidates), then checked whole.
const LOWER_PATTERNS: &[(&str, &[&str], Kind)] = &[
    ("password", &["sswo"], Kind::Keyword),
    ("passwd", &["sswd"], Kind::Keyword),
    ("secret", &["secr"], Kind::Keyword),
    ("token", &["oken"], Kind::Keyword),
    ("api_key", &["pi_k"], Kind::Keyword),
    ("apikey", &["apik"], Kind::Keyword),
    ("api-key", &["pi-k"], Kind::Keyword),
    ("access_key", &["ss_k"], Kind::Keyword),
    ("accesskey", &["sske"], Kind::Keyword),
    ("aws", &["aws_", "awss", "awsa", "awsk"], Kind::AwsSecret),
];

/// The parts of 4 bytes each vendor's name (in [`VENDORS`]) is found by, the rarest in a sample
/// of code and documentation; `lob`, shorter, by itself and what may follow it in a key. Two
/// names may share a part (`twit`).
const VENDOR_PARTS: &[&[&str]] = &[
    &["roku"],
    &["cebo"],
    &["twit"],
    &["adob"],
    &["ibab"],
    &["sana"],
    &["tlas"],
    &["tbuc"],
    &["beam"],
    &["tful"],
    &["isco"],
    &["ropb"],
    &["astl"],
    &["nici"],
    &["bspo"],
    &["rcom"],
    &["ioni"],
    &["inea"],
    &["lob_", "lob-", "lob.", "lob ", "lob=", "lob:", "lob,"],
    &["ilch"],
    &["ilgu"],
    &["ebir"],
    &["wrel"],
    &["kedi"],
    &["twit"],
    &["pefo"],
];

/// The packed (Teddy) searcher takes fewer patterns than this.
const PACKED_LIMIT: usize = 128;

/// What a searcher's pattern stands for: a kind of secret, and the word the pattern is part of
/// (checked whole, `back` bytes before the pattern's start).
#[derive(Clone, Copy)]
struct Anchor {
    kind: Kind,
    word: &'static str,
    back: usize,
}

/// One pass over the data (or its lowercased copy) with one Teddy searcher.
struct Pass {
    searcher: packed::Searcher,
    /// What each pattern stands for (one or more words).
    anchors: Vec<Vec<Anchor>>,
    lowered: bool,
}

/// The passes: tokens by anchors of 4 bytes or more that start with an upper-case letter or a
/// symbol, those that start lower-case, tokens by shorter anchors, and words matched in any
/// case. Teddy filters best when the patterns of one pass look alike; each pass is a scan of
/// the data at several GB/s.
struct Searchers(Vec<Pass>);

static SEARCHERS: LazyLock<Option<Searchers>> = LazyLock::new(|| {
    // Teddy with more than 64 patterns: fewer passes over the data beat emptier buckets
    let pass = |patterns: Vec<(&'static str, Anchor)>, lowered: bool| {
        let mut parts: Vec<&str> = Vec::new();
        let mut anchors: Vec<Vec<Anchor>> = Vec::new();
        for (p, a) in patterns {
            match parts.iter().position(|q| *q == p) {
                Some(i) => anchors.get_mut(i)?.push(a),
                None => {
                    parts.push(p);
                    anchors.push(vec![a]);
                }
            }
        }
        (parts.len() < PACKED_LIMIT).then_some(())?;
        let (parts, anchors) = bucket_order(parts, anchors);
        let searcher = packed::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .heuristic_pattern_limits(false)
            .builder()
            .extend(&parts)
            .build()?;
        Some(Pass {
            searcher,
            anchors,
            lowered,
        })
    };
    let token = |(p, kind): &(&'static str, Kind)| {
        (
            *p,
            Anchor {
                kind: *kind,
                word: p,
                back: 0,
            },
        )
    };
    let lower_led = |p: &str| p.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    let long = |lower: bool| {
        PATTERNS
            .iter()
            .filter(move |(p, _)| p.len() >= 4 && lower_led(p) == lower)
            .map(token)
            .collect()
    };
    let short = PATTERNS.iter().filter(|(p, _)| p.len() < 4).map(token);
    let words = LOWER_PATTERNS
        .iter()
        .map(|(w, parts, kind)| (*w, *parts, *kind))
        .chain(
            VENDORS
                .iter()
                .zip(VENDOR_PARTS)
                .map(|((name, shapes), parts)| (*name, *parts, Kind::Vendor(shapes))),
        );
    let mut lower = Vec::new();
    for (word, parts, kind) in words {
        for part in parts {
            let back = word.find(part).unwrap_or(0);
            lower.push((*part, Anchor { kind, word, back }));
        }
    }
    Some(Searchers(vec![
        pass(long(false), false)?,
        pass(long(true), false)?,
        pass(short.collect(), false)?,
        pass(lower, true)?,
    ]))
});

/// Orders a pass's patterns so that Teddy, which deals pattern `i` to bucket `i % buckets` (8
/// buckets up to 32 patterns, else 16; reversed), puts alike patterns together: sorted, cut
/// into one run per bucket, and dealt round. A bucket of alike patterns lets fewer unrelated bytes through
/// its filter. No two patterns of a pass start with one another, so their order does not change
/// what matches.
fn bucket_order<A>(parts: Vec<&'static str>, anchors: Vec<A>) -> (Vec<&'static str>, Vec<A>) {
    let mut both: Vec<(&'static str, A)> = parts.into_iter().zip(anchors).collect();
    both.sort_by(|a, b| a.0.cmp(b.0));
    let n = both.len();
    let buckets = if n > 32 { 16 } else { 8 };
    // exactly `buckets` runs, the longer first, so that every round deals one to each run
    // still holding patterns and pattern `i` lands in run `i % buckets`
    let mut rest = both.into_iter();
    let mut runs: Vec<std::vec::IntoIter<(&'static str, A)>> = (0..buckets)
        .map(|r| {
            let len = n / buckets + usize::from(r < n % buckets);
            rest.by_ref().take(len).collect::<Vec<_>>().into_iter()
        })
        .collect();
    let (mut parts, mut anchors) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while parts.len() < n {
        for run in &mut runs {
            if let Some((p, a)) = run.next() {
                parts.push(p);
                anchors.push(a);
            }
        }
    }
    (parts, anchors)
}

/// Finds secrets in `data` (the first [`scan_prefix_limit`] bytes of it), in the order they
/// appear. Binary data (many NUL bytes near the start) yields nothing. At most 64 matches.
///
/// Content rules: every kind of trivy's built-in secret rules (PEM/OpenSSH/PGP private keys, AWS
/// access key ids and secret keys, GitHub, GitLab, Hugging Face, Slack, Stripe, Twilio, PyPI,
/// npm, GCP service-account keys and some fifty more SaaS tokens, JWTs, Kubernetes dockercfg
/// secrets), Google API keys, `auth` entries of Docker `config.json`/`.dockercfg` files, and
/// `password=`/`secret=`/`token:` assignments whose value has high entropy and is not a
/// placeholder. [`RULES`] lists them.
pub fn scan(data: &[u8]) -> Vec<SecretMatch> {
    let data = data.get(..SCAN_PREFIX_LIMIT).unwrap_or(data);
    let mut out = Vec::new();
    if looks_binary(data) {
        return out;
    }
    let Some(s) = SEARCHERS.as_ref() else {
        return out;
    };
    LOWERED.with_borrow_mut(|lowered| {
        lowered.clear();
        lowered.extend(data.iter().map(u8::to_ascii_lowercase));
        scan_candidates(data, lowered, s, &mut out);
    });
    out
}

thread_local! {
    /// The lowercased copy of the data [`scan`] looks at, kept between calls.
    static LOWERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Looks closely at every candidate of the passes, in the order they start.
fn scan_candidates(data: &[u8], lowered: &[u8], s: &Searchers, out: &mut Vec<SecretMatch>) {
    let hay = |p: &Pass| if p.lowered { lowered } else { data };
    let mut its: Vec<_> =
        s.0.iter()
            .map(|p| p.searcher.find_iter(hay(p)).peekable())
            .collect();
    let passes = &s.0;
    let mut lines = LineCounter::default();
    let mut skip_until = 0usize;
    // the end of the last match when it was a generic assignment
    let mut generic_until = 0usize;
    loop {
        let mut next: Option<(usize, usize)> = None;
        for (i, it) in its.iter_mut().enumerate() {
            if let Some(m) = it.peek()
                && next.is_none_or(|(_, at)| m.start() < at)
            {
                next = Some((i, m.start()));
            }
        }
        let Some((i, _)) = next else { break };
        let (Some(m), Some(pass)) = (its.get_mut(i).and_then(|it| it.next()), passes.get(i)) else {
            break;
        };
        let Some(anchors) = pass.anchors.get(m.pattern().as_usize()) else {
            continue;
        };
        let mut found = None;
        for anchor in anchors {
            let Some(start) = m.start().checked_sub(anchor.back) else {
                continue;
            };
            let end = start + anchor.word.len();
            if start < skip_until
                || ((anchor.back > 0 || anchor.word.len() > m.end() - m.start())
                    && hay(pass).get(start..end) != Some(anchor.word.as_bytes()))
            {
                continue;
            }
            found = examine(data, anchor.kind, start, end).map(|f| (start, end, f));
            if found.is_some() {
                break;
            }
        }
        if let Some((start, end, (rule, s, e))) = found {
            let Some(secret) = data.get(s..e) else {
                continue;
            };
            // a generic `token = …` assignment gives way to a known kind inside its value
            let generic = matches!(rule, "password-assignment" | "secret-assignment");
            if start < generic_until {
                if generic {
                    continue;
                }
                out.pop();
            }
            generic_until = if generic { e } else { 0 };
            out.push(SecretMatch {
                rule,
                description: describe(rule),
                line: lines.line_of(data, start.min(s)),
                redacted: if rule == "private-key" {
                    private_key_label(secret)
                } else {
                    redact(&String::from_utf8_lossy(secret))
                },
            });
            skip_until = if generic { s } else { e.max(end) };
            if out.len() >= MAX_MATCHES {
                break;
            }
        }
    }
}

/// Whether the candidate `start..end` of `kind` is a secret: its rule and where it is.
fn examine(
    data: &[u8],
    kind: Kind,
    start: usize,
    end: usize,
) -> Option<(&'static str, usize, usize)> {
    match kind {
        Kind::Token(shapes) => token(data, start, end, shapes),
        Kind::Vendor(shapes) => vendor(data, end, shapes),
        Kind::PrivateKey => private_key(data, start, end),
        Kind::AwsSecret => aws_secret(data, start, end),
        Kind::Jwt => jwt(data, start),
        Kind::NpmAuth => npm_auth(data, end),
        Kind::Terraform => terraform(data, start, end),
        Kind::GcpServiceAccount => gcp_service_account(data, start, end),
        Kind::DockerCfg => docker_cfg(data, end),
        Kind::DockerAuth => docker_auth(data, end),
        Kind::Keyword => keyword_assignment(data, start, end),
    }
}

/// Every content rule [`scan`] reports, with its description: trivy's built-in rule ids where
/// trivy has the rule, whittle's own otherwise.
pub const RULES: &[(&str, &str)] = &[
    ("private-key", "private key (PEM/OpenSSH)"),
    ("aws-access-key-id", "AWS access key id"),
    ("aws-secret-access-key", "AWS secret access key"),
    ("github-pat", "GitHub personal access token"),
    ("github-oauth", "GitHub OAuth access token"),
    ("github-app-token", "GitHub App token"),
    ("github-refresh-token", "GitHub refresh token"),
    (
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
    ),
    ("gitlab-pat", "GitLab personal access token"),
    ("hugging-face-access-token", "Hugging Face access token"),
    ("shopify-token", "Shopify token"),
    ("slack-access-token", "Slack token"),
    ("slack-web-hook", "Slack webhook URL"),
    ("stripe-publishable-token", "Stripe publishable key"),
    ("stripe-secret-token", "Stripe secret key"),
    ("pypi-upload-token", "PyPI upload token"),
    ("gcp-service-account", "Google Cloud service-account key"),
    ("google-api-key", "Google API key"),
    ("heroku-api-key", "Heroku API key"),
    ("twilio-api-key", "Twilio API key"),
    ("age-secret-key", "age secret key"),
    ("facebook-token", "Facebook token"),
    ("twitter-token", "Twitter token"),
    ("adobe-client-id", "Adobe client id"),
    ("adobe-client-secret", "Adobe client secret"),
    ("alibaba-access-key-id", "Alibaba AccessKey id"),
    ("alibaba-secret-key", "Alibaba secret key"),
    ("asana-client-id", "Asana client id"),
    ("asana-client-secret", "Asana client secret"),
    ("atlassian-api-token", "Atlassian API token"),
    ("bitbucket-client-id", "Bitbucket client id"),
    ("bitbucket-client-secret", "Bitbucket client secret"),
    ("beamer-api-token", "Beamer API token"),
    ("clojars-api-token", "Clojars API token"),
    (
        "contentful-delivery-api-token",
        "Contentful delivery API token",
    ),
    ("databricks-api-token", "Databricks API token"),
    ("discord-api-token", "Discord API key"),
    ("discord-client-id", "Discord client id"),
    ("discord-client-secret", "Discord client secret"),
    ("doppler-api-token", "Doppler API token"),
    ("dropbox-api-secret", "Dropbox API secret"),
    (
        "dropbox-short-lived-api-token",
        "Dropbox short-lived API token",
    ),
    (
        "dropbox-long-lived-api-token",
        "Dropbox long-lived API token",
    ),
    ("duffel-api-token", "Duffel API token"),
    ("dynatrace-api-token", "Dynatrace API token"),
    ("easypost-api-token", "EasyPost API token"),
    ("fastly-api-token", "Fastly API token"),
    ("finicity-client-secret", "Finicity client secret"),
    ("finicity-api-token", "Finicity API token"),
    ("flutterwave-public-key", "Flutterwave public or secret key"),
    ("flutterwave-enc-key", "Flutterwave encryption key"),
    ("frameio-api-token", "Frame.io API token"),
    ("gocardless-api-token", "GoCardless API token"),
    ("grafana-api-token", "Grafana API token"),
    ("hashicorp-tf-api-token", "Terraform Cloud API token"),
    ("hubspot-api-token", "HubSpot API token"),
    ("intercom-api-token", "Intercom API token"),
    ("intercom-client-secret", "Intercom client secret"),
    ("ionic-api-token", "Ionic API token"),
    ("jwt-token", "JSON Web Token"),
    ("linear-api-token", "Linear API token"),
    ("linear-client-secret", "Linear client secret"),
    ("lob-api-key", "Lob API key"),
    ("lob-pub-api-key", "Lob publishable API key"),
    ("mailchimp-api-key", "Mailchimp API key"),
    ("mailgun-token", "Mailgun API key"),
    ("mailgun-signing-key", "Mailgun webhook signing key"),
    ("mapbox-api-token", "Mapbox API token"),
    ("messagebird-api-token", "MessageBird API token"),
    ("messagebird-client-id", "MessageBird client id"),
    ("new-relic-user-api-key", "New Relic user API key"),
    ("new-relic-user-api-id", "New Relic user API id"),
    (
        "new-relic-browser-api-token",
        "New Relic browser ingest token",
    ),
    ("npm-access-token", "npm access token"),
    ("npmrc-auth-token", "npm auth token in .npmrc"),
    ("planetscale-password", "PlanetScale password"),
    ("planetscale-api-token", "PlanetScale API token"),
    ("private-packagist-token", "Private Packagist token"),
    ("postman-api-token", "Postman API token"),
    ("pulumi-api-token", "Pulumi API token"),
    ("rubygems-api-token", "RubyGems API token"),
    ("sendgrid-api-token", "SendGrid API token"),
    ("sendinblue-api-token", "Sendinblue API token"),
    ("shippo-api-token", "Shippo API token"),
    ("linkedin-client-secret", "LinkedIn client secret"),
    ("linkedin-client-id", "LinkedIn client id"),
    ("twitch-api-token", "Twitch API token"),
    ("typeform-api-token", "Typeform API token"),
    (
        "dockerconfig-secret",
        "Docker registry credentials in a Kubernetes secret",
    ),
    (
        "docker-config-auth",
        "Docker registry credentials (config.json auth)",
    ),
    ("password-assignment", "password assigned in plain text"),
    (
        "secret-assignment",
        "secret or token assigned in plain text",
    ),
];

/// The description of each rule id.
fn describe(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(id, _)| *id == rule)
        .map_or("secret", |(_, d)| d)
}

/// Whether data is binary: more than 1 NUL byte in 32 of its first 8 KiB.
fn looks_binary(data: &[u8]) -> bool {
    let head = data.get(..8192).unwrap_or(data);
    let nuls = memchr::memchr_iter(0, head).count();
    nuls > 0 && nuls * 32 > head.len()
}

/// Counts lines incrementally over increasing offsets.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    line: usize,
}

impl LineCounter {
    fn line_of(&mut self, data: &[u8], offset: usize) -> usize {
        if offset >= self.pos {
            let slice = data.get(self.pos..offset).unwrap_or_default();
            self.line += memchr::memchr_iter(b'\n', slice).count();
            self.pos = offset;
        }
        self.line + 1
    }
}

fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}
fn slack_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
fn base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

fn hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}
fn hex_lower(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}
fn a_to_h(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'h').contains(&b.to_ascii_lowercase())
}
fn a_to_h_lower(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'h').contains(&b)
}
fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}
fn alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}
fn tok_eq(b: u8) -> bool {
    token_char(b) || b == b'='
}
fn word_eq(b: u8) -> bool {
    word(b) || b == b'='
}
fn tok_dot(b: u8) -> bool {
    token_char(b) || b == b'.'
}
fn tfp_char(b: u8) -> bool {
    tok_dot(b) || b == b'='
}
fn b64_no_pad(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}
/// The upper-case bech32 alphabet (age keys).
fn bech32(b: u8) -> bool {
    b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".contains(&b)
}
fn o_or_u(b: u8) -> bool {
    b == b'o' || b == b'u'
}
fn r_or_u(b: u8) -> bool {
    b == b'r' || b == b'u'
}

/// Where `segs` end when they match from `at`, each run taking as many bytes as it may.
fn match_segs(data: &[u8], at: usize, segs: &[Seg]) -> Option<usize> {
    let mut i = at;
    for seg in segs {
        match *seg {
            Lit(s) => {
                if !data.get(i..)?.starts_with(s.as_bytes()) {
                    return None;
                }
                i += s.len();
            }
            Run(class, min, max) => {
                let n = run_len(data, i, max, class);
                if n < min {
                    return None;
                }
                i += n;
            }
        }
    }
    Some(i)
}

/// A token that starts with its anchor (`start..end`) on a word boundary and ends where a word
/// does; between quotes when its shape says so. The first shape that fits wins.
fn token(
    data: &[u8],
    start: usize,
    end: usize,
    shapes: &[Shape],
) -> Option<(&'static str, usize, usize)> {
    if !boundary_before(data, start) {
        return None;
    }
    shapes.iter().find_map(|shape| {
        let e = match_segs(data, end, shape.segs)?;
        let ends_word = data.get(e).is_none_or(|b| !b.is_ascii_alphanumeric());
        let in_quotes = !shape.quoted
            || (start > 0
                && matches!(data.get(start - 1), Some(b'"' | b'\''))
                && matches!(data.get(e), Some(b'"' | b'\'')));
        (ends_word && in_quotes).then_some((shape.rule, start, e))
    })
}

/// A vendor's name (ending at `end`) in a key of at most 25 more key characters, a connector
/// (`=`, `:`, `:=`, `=>`, …), at most 5 bytes on the same line, then a value of one of the
/// vendor's shapes (between quotes where the shape says so).
fn vendor(data: &[u8], end: usize, shapes: &[Shape]) -> Option<(&'static str, usize, usize)> {
    let mut i = end
        + run_len(data, end, 25, |b| {
            b.is_ascii_alphanumeric() || b"_ .-,".contains(&b)
        });
    let rest = data.get(i..)?;
    let connector = [&b"||:"[..], b":=", b"<=", b"=>", b"=", b">", b":"]
        .into_iter()
        .find(|c| rest.starts_with(c))?;
    i += connector.len();
    for skip in 0..=5 {
        let at = i + skip;
        let b = *data.get(at)?;
        if b == b'\n' {
            return None;
        }
        for shape in shapes {
            let found = if shape.quoted {
                if b != b'"' && b != b'\'' {
                    continue;
                }
                match_segs(data, at + 1, shape.segs)
                    .filter(|e| matches!(data.get(*e), Some(b'"' | b'\'')))
                    .map(|e| (at + 1, e))
            } else {
                match_segs(data, at, shape.segs).map(|e| (at, e))
            };
            if let Some((s, e)) = found {
                return Some((shape.rule, s, e));
            }
        }
    }
    None
}

/// An AWS secret access key after an `aws…key` name (`aws_secret_access_key`, `AWS_SECRET_KEY`,
/// `awsKey`): optional quotes, an optional `=`/`:`/`=>`, then exactly 40 base64 characters that
/// end the word.
fn aws_secret(data: &[u8], start: usize, end: usize) -> Option<(&'static str, usize, usize)> {
    if start > 0
        && data
            .get(start - 1)
            .is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let ci = |i: usize, s: &str| {
        data.get(i..i + s.len())
            .is_some_and(|d| d.eq_ignore_ascii_case(s.as_bytes()))
    };
    let mut i = end;
    let underscore = |i: &mut usize| {
        if data.get(*i) == Some(&b'_') {
            *i += 1;
        }
    };
    underscore(&mut i);
    if ci(i, "secret") {
        i += 6;
    } else if ci(i, "sec") {
        i += 3;
    }
    underscore(&mut i);
    if ci(i, "access") {
        i += 6;
    }
    underscore(&mut i);
    if !ci(i, "key") {
        return None;
    }
    i += 3;
    if matches!(data.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let spaces = |i: &mut usize| {
        while matches!(data.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    spaces(&mut i);
    if data.get(i..).is_some_and(|r| r.starts_with(b"=>")) {
        i += 2;
    } else if matches!(data.get(i), Some(b'=' | b':')) {
        i += 1;
    }
    spaces(&mut i);
    if matches!(data.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let n = run_len(data, i, 41, base64_char);
    let after = data.get(i + n).copied();
    let ends = after.is_none_or(|b| b.is_ascii_whitespace() || b"\"',.;".contains(&b));
    let value = std::str::from_utf8(data.get(i..i + n)?).ok()?;
    (n == 40 && ends && !is_placeholder(value)).then_some(("aws-secret-access-key", i, i + n))
}

/// A Terraform Cloud token: 14 alphanumerics, the anchor `.atlasv1.`, then 60 to 70 token
/// characters.
fn terraform(data: &[u8], start: usize, end: usize) -> Option<(&'static str, usize, usize)> {
    let s = start.checked_sub(14)?;
    if !data
        .get(s..start)?
        .iter()
        .all(|b| b.is_ascii_alphanumeric())
        || !boundary_before(data, s)
    {
        return None;
    }
    let e = match_segs(data, end, &[Run(tok_eq, 60, 70)])?;
    data.get(e)
        .is_none_or(|b| !b.is_ascii_alphanumeric())
        .then_some(("hashicorp-tf-api-token", s, e))
}

/// How far from `"type": "service_account"` a key file's `"private_key"` may be.
const GCP_WINDOW: usize = 8192;

/// A Google Cloud service-account key file: `"type": "service_account"` in JSON that also holds
/// a `"private_key"`.
fn gcp_service_account(
    data: &[u8],
    start: usize,
    end: usize,
) -> Option<(&'static str, usize, usize)> {
    let before = data.get(..start)?;
    let mut i = before.len();
    while i > 0 && before.get(i - 1).is_some_and(|b| b.is_ascii_whitespace()) {
        i -= 1;
    }
    if i == 0 || before.get(i - 1) != Some(&b':') {
        return None;
    }
    i -= 1;
    while i > 0 && before.get(i - 1).is_some_and(|b| b.is_ascii_whitespace()) {
        i -= 1;
    }
    if !before.get(..i)?.ends_with(b"\"type\"") {
        return None;
    }
    // the key file is small: its private key is near (bounded, so that a file of many
    // `"service_account"` values is not searched whole for each)
    let near =
        data.get(start.saturating_sub(GCP_WINDOW)..end.saturating_add(GCP_WINDOW).min(data.len()))?;
    memchr::memmem::find(near, b"\"private_key\"")?;
    Some(("gcp-service-account", start + 1, end - 1))
}

/// A Kubernetes secret's `.dockerconfigjson:` or `.dockercfg:` value: base64 of JSON (`ey…`/`ew…`).
fn docker_cfg(data: &[u8], end: usize) -> Option<(&'static str, usize, usize)> {
    let rest = data.get(end..)?;
    let mut i = end
        + if rest.starts_with(b"onfigjson") {
            9
        } else if rest.starts_with(b"fg") {
            2
        } else {
            return None;
        };
    if data.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while matches!(data.get(i), Some(b' ' | b'\t' | b'\r' | b'\n' | b'|')) {
        i += 1;
    }
    let value = data.get(i..)?;
    if !(value.starts_with(b"ey") || value.starts_with(b"ew")) {
        return None;
    }
    let n = run_len(data, i, MAX_VALUE, base64_char);
    (n >= 16).then_some(("dockerconfig-secret", i, i + n))
}

/// An `"auth": "<base64 of user:password>"` entry of a Docker `config.json` or `.dockercfg`.
fn docker_auth(data: &[u8], end: usize) -> Option<(&'static str, usize, usize)> {
    let mut i = end;
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if data.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if data.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    let n = run_len(data, i, MAX_VALUE, base64_char);
    if n < 8 || data.get(i + n) != Some(&b'"') {
        return None;
    }
    let decoded = base64_decode(data.get(i..i + n)?)?;
    let colon = memchr::memchr(b':', &decoded)?;
    let password = String::from_utf8_lossy(decoded.get(colon + 1..)?);
    (colon > 0 && !is_placeholder(&password)).then_some(("docker-config-auth", i, i + n))
}

/// Decodes standard base64 (padding optional); `None` for anything else.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in s.iter().take_while(|b| **b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// Whether the byte before `start` ends a word (so a prefix is not inside a longer token).
fn boundary_before(data: &[u8], start: usize) -> bool {
    start == 0
        || data
            .get(start - 1)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

/// Counts the bytes from `from` that satisfy `class`, up to `max`.
fn run_len(data: &[u8], from: usize, max: usize, class: fn(u8) -> bool) -> usize {
    data.get(from..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|b| class(**b))
        .count()
}

/// `-----BEGIN … PRIVATE KEY-----` (or `PRIVATE KEY BLOCK-----`, PGP's) followed by a key body:
/// base64 lines (newlines may be written `\n`, as in JSON) or PEM headers.
fn private_key(
    data: &[u8],
    anchor: usize,
    header_end: usize,
) -> Option<(&'static str, usize, usize)> {
    // the header starts at most 48 bytes before the anchor, on the same line
    let lo = anchor.saturating_sub(48);
    let before = data.get(lo..anchor)?;
    let begin = memchr::memmem::rfind(before, b"-----BEGIN ")?;
    if memchr::memchr(b'\n', before.get(begin..)?).is_some() {
        return None;
    }
    let start = lo + begin;
    let mut body = header_end;
    loop {
        match data.get(body) {
            Some(b'\r' | b'\n' | b' ' | b'\t') => body += 1,
            Some(b'\\') if matches!(data.get(body + 1), Some(b'n' | b'r')) => body += 2,
            _ => break,
        }
    }
    let rest = data.get(body..)?;
    let looks_pem_headers = rest.starts_with(b"Proc-Type:");
    let b64 = rest
        .iter()
        .take(64)
        .take_while(|b| base64_char(**b) || matches!(**b, b'\n' | b'\r' | b'\\'))
        .count();
    (looks_pem_headers || b64 >= 40).then_some(("private-key", start, header_end))
}

/// The label of a private key header (`BEGIN RSA PRIVATE KEY`), which shows no secret.
fn private_key_label(header: &[u8]) -> String {
    String::from_utf8_lossy(header)
        .trim_matches('-')
        .trim()
        .to_string()
}

/// `eyJ<header>.eyJ<payload>.<signature>` (base64url parts).
fn jwt(data: &[u8], start: usize) -> Option<(&'static str, usize, usize)> {
    if !boundary_before(data, start) {
        return None;
    }
    let h = run_len(data, start, 2048, token_char);
    let p_start = start + h + 1;
    if h < 10 || data.get(start + h) != Some(&b'.') || !data.get(p_start..)?.starts_with(b"eyJ") {
        return None;
    }
    let p = run_len(data, p_start, 8192, token_char);
    let s_start = p_start + p + 1;
    if p < 10 || data.get(p_start + p) != Some(&b'.') {
        return None;
    }
    // the signature may be empty (`alg: none`)
    let s = run_len(data, s_start, 2048, token_char);
    (s >= 10 || s == 0).then_some(("jwt-token", start, s_start + s))
}

/// npm's `_authToken=VALUE` (in `.npmrc`), not a `${VAR}` reference.
fn npm_auth(data: &[u8], end: usize) -> Option<(&'static str, usize, usize)> {
    let mut i = end;
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if data.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while matches!(data.get(i), Some(b' ' | b'\t' | b'"' | b'\'')) {
        i += 1;
    }
    let n = run_len(data, i, MAX_VALUE, |b| {
        !b.is_ascii_whitespace() && b != b'"' && b != b'\''
    });
    let value = data.get(i..i + n)?;
    if n < 8 || is_placeholder(&String::from_utf8_lossy(value)) {
        return None;
    }
    Some(("npmrc-auth-token", i, i + n))
}

fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// A `KEY = VALUE` / `"key": "value"` / `key: value` assignment whose key holds the keyword at
/// `kw_start..kw_end` and whose value looks like a real secret.
fn keyword_assignment(
    data: &[u8],
    kw_start: usize,
    kw_end: usize,
) -> Option<(&'static str, usize, usize)> {
    // the keyword must end a word part: `tokenizer` and `secretary` are not secrets
    let kw = data.get(kw_start..kw_end)?;
    let next = data.get(kw_end).copied();
    let part_ends = match next {
        None => true,
        Some(b) if !b.is_ascii_alphabetic() => true,
        Some(b) if b.is_ascii_uppercase() => kw.last().is_some_and(|l| l.is_ascii_lowercase()),
        Some(b's' | b'S') => data
            .get(kw_end + 1)
            .is_none_or(|b| !b.is_ascii_alphabetic()),
        Some(_) => false,
    };
    if !part_ends {
        return None;
    }
    // the whole key around the keyword
    let mut ks = kw_start;
    while ks > 0 && kw_start - ks < MAX_KEY && data.get(ks - 1).is_some_and(|b| key_char(*b)) {
        ks -= 1;
    }
    let ke = kw_end + run_len(data, kw_end, MAX_KEY, key_char);
    let key = String::from_utf8_lossy(data.get(ks..ke)?).to_ascii_lowercase();
    if excluded_key(&key) {
        return None;
    }
    // `key` then an optional closing quote, spaces, `=`/`:`/`:=`/`=>`, spaces
    let mut i = ke;
    if matches!(data.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match data.get(i) {
        Some(b'=') => {
            i += 1;
            match data.get(i) {
                Some(b'=' | b'~') => return None,
                Some(b'>') => i += 1,
                _ => {}
            }
        }
        Some(b':') => {
            i += 1;
            if data.get(i) == Some(&b'=') {
                i += 1;
            }
        }
        _ => return None,
    }
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let (vs, ve, quoted) = match data.get(i) {
        Some(q @ (b'"' | b'\'' | b'`')) => {
            let q = *q;
            let n = run_len(data, i + 1, MAX_VALUE + 1, |b| b != b'\n');
            let rest = data.get(i + 1..i + 1 + n)?;
            let close = memchr::memchr(q, rest)?;
            (i + 1, i + 1 + close, true)
        }
        _ => {
            let n = run_len(data, i, MAX_VALUE + 1, |b| {
                !b.is_ascii_whitespace() && !b",;&)}]\"'<>".contains(&b)
            });
            (i, i + n, false)
        }
    };
    let value = std::str::from_utf8(data.get(vs..ve)?).ok()?;
    if !looks_like_secret_value(value, quoted) {
        return None;
    }
    let rule = if key.contains("aws") && key.contains("secret") && is_aws_secret(value) {
        "aws-secret-access-key"
    } else if key.contains("pass") {
        "password-assignment"
    } else {
        "secret-assignment"
    };
    Some((rule, vs, ve))
}

/// A 40-character base64 string, the shape of an AWS secret access key.
fn is_aws_secret(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(base64_char)
}

/// Key names that name where a secret is, or what kind it is, rather than holding it.
fn excluded_key(key: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "file",
        "path",
        "dir",
        "url",
        "uri",
        "name",
        "type",
        "length",
        "len",
        "size",
        "format",
        "env",
        "var",
        "field",
        "ref",
        "prompt",
        "policy",
        "header",
        "endpoint",
        "expiry",
        "expires",
        "ttl",
        "regex",
        "pattern",
        "hint",
        "label",
        "required",
        "enabled",
        "encryption",
        "method",
        "algorithm",
        "algo",
        "mode",
        "scheme",
        "version",
        "count",
        "timeout",
        "age",
        "strength",
        "complexity",
        "command",
        "cmd",
        "prefix",
    ];
    let key = key.trim_end_matches(['_', '-', '.']);
    SUFFIXES.iter().any(|s| {
        key.strip_suffix(s)
            .is_some_and(|head| head.ends_with(['_', '-', '.']))
    })
}

/// Whether a generic assignment's value is a real-looking secret: long enough, high entropy, of
/// mixed character classes, and neither a placeholder nor code (`self.password`, `get()`).
fn looks_like_secret_value(value: &str, quoted: bool) -> bool {
    let len = value.len();
    if !(MIN_GENERIC_LEN..=MAX_VALUE).contains(&len) || is_placeholder(value) {
        return false;
    }
    if value.bytes().any(|b| b == b'(' || b == b' ' || b == b'\\') {
        return false;
    }
    // code, not a literal: indexing, calls, blocks, f-string fields, type annotations
    if !quoted && value.bytes().any(|b| b"[]{}".contains(&b)) {
        return false;
    }
    // lowercase words joined by `_`/`-` (`base64_encoded_64_byte_salt`) are prose
    let parts: Vec<&str> = value.split(['_', '-']).collect();
    let words = parts
        .iter()
        .filter(|p| p.len() >= 3 && p.bytes().all(|b| b.is_ascii_lowercase()))
        .count();
    if parts.len() >= 3 && words >= 2 {
        return false;
    }
    // paths, URLs and the next `name=` of a list are not secrets
    if value.starts_with('/')
        || value.contains("://")
        || (value.ends_with('=') && !value.len().is_multiple_of(4))
    {
        return false;
    }
    // a value that names the kind of secret is a label (`"challengePassword"`)
    let lower = value.to_ascii_lowercase();
    if ["password", "passwd", "secret", "token"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return false;
    }
    // words joined by dashes (`elevated-privileges`) are prose; a secret mixes in digits or case
    let classes = char_classes(value);
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    if classes < 2 || (!has_digit && classes < 3) || entropy(value.as_bytes()) < MIN_ENTROPY {
        return false;
    }
    if is_dotted_identifier(value) {
        return false;
    }
    // unquoted identifiers are usually variables in code; demand a mix of 3 classes
    let identifier = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && value.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    !(identifier && !quoted && classes < 3)
}

/// How many of lowercase, uppercase, digit, other a value mixes.
fn char_classes(value: &str) -> usize {
    let (mut l, mut u, mut d, mut o) = (false, false, false, false);
    for b in value.bytes() {
        match b {
            b'a'..=b'z' => l = true,
            b'A'..=b'Z' => u = true,
            b'0'..=b'9' => d = true,
            _ => o = true,
        }
    }
    [l, u, d, o].iter().filter(|x| **x).count()
}

/// `a.b`, `self.config.password`: member access, not a literal.
fn is_dotted_identifier(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|part| {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Shannon entropy of `data` in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in data {
        counts[usize::from(*b)] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a value is a placeholder, a reference to a variable or a template, not a secret
/// (`changeme`, `${TOKEN}`, `$PASSWORD`, `{{ .Values.pw }}`, `<your-key>`, `xxxx`, `****`).
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "password",
        "passwd",
        "secret",
        "token",
        "example",
        "sample",
        "dummy",
        "test",
        "testing",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "redacted",
        "placeholder",
        "default",
        "admin",
        "root",
        "foo",
        "bar",
        "foobar",
        "required",
        "optional",
        "empty",
        "todo",
        "fixme",
        "notsecret",
        "not-a-secret",
    ];
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    const MARKERS: &[&str] = &[
        "${",
        "{{",
        "$(",
        "%(",
        "<",
        "xxxx",
        "****",
        "....",
        "your_",
        "your-",
        "yourpass",
        "changeme",
        "replace",
        "insert",
        "_here",
        "-here",
        "process.env",
        "os.environ",
        "getenv",
        "env[",
        "secretkeyref",
        "/run/secrets/",
    ];
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    let Some(&first) = v.as_bytes().first() else {
        return true;
    };
    if matches!(first, b'$' | b'%' | b'@' | b'&' | b'*') {
        return true;
    }
    // one repeated character (`aaaaaaaa`, `00000000`)
    v.bytes().all(|b| b == first)
}

/// Redacts a secret to at most its first 4 and last 2 characters, showing less of short ones
/// (never more than a quarter up front and an eighth at the end): `AKIA…LE`.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    let head = (n / 4).min(4);
    let tail = (n / 8).min(2);
    let mut out: String = chars.iter().take(head).collect();
    out.push('…');
    out.extend(chars.iter().skip(n - tail));
    out
}

/// Whether a path names a file that usually holds a secret, and which rule says so:
/// `.env`/`.env.*` (not `.env.example`), `id_rsa`/`id_ed25519`/…, `*.pem`/`*.key` (not CA
/// certificates), `*.p12`/`*.pfx`/`*.jks`, `.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`,
/// `.aws/credentials`, `.docker/config.json`, `*.tfstate`.
pub fn secret_file_name(path: &str) -> Option<&'static str> {
    let path = path.trim_end_matches('/');
    let base = path.rsplit('/').next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    let lpath = path.to_ascii_lowercase();
    if lower == ".env" {
        return Some("env-file");
    }
    if let Some(suffix) = lower.strip_prefix(".env.") {
        const TEMPLATES: &[&str] = &["example", "sample", "template", "dist", "defaults", "tpl"];
        return (!TEMPLATES.contains(&suffix)).then_some("env-file");
    }
    if matches!(
        lower.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk"
    ) {
        return Some("ssh-private-key-file");
    }
    match lower.as_str() {
        ".npmrc" => return Some("npmrc-file"),
        ".pypirc" => return Some("pypirc-file"),
        ".netrc" | "_netrc" => return Some("netrc-file"),
        ".git-credentials" => return Some("git-credentials-file"),
        _ => {}
    }
    if lpath.ends_with(".aws/credentials") {
        return Some("aws-credentials-file");
    }
    if lpath.ends_with(".docker/config.json") {
        return Some("docker-config-file");
    }
    if lower.ends_with(".tfstate") || lower.ends_with(".tfstate.backup") {
        return Some("terraform-state-file");
    }
    if [".p12", ".pfx", ".jks", ".keystore"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return Some("keystore-file");
    }
    if lower.ends_with(".pem") || lower.ends_with(".key") {
        const CA_DIRS: &[&str] = &[
            "/etc/ssl/certs/",
            "/usr/share/ca-certificates/",
            "/etc/ca-certificates/",
            "/etc/pki/ca-trust/",
            "/usr/local/share/ca-certificates/",
            "/etc/pki/tls/certs/",
        ];
        let in_ca_dir = CA_DIRS
            .iter()
            .any(|d| lpath.starts_with(d) || lpath.contains(&d[1..]));
        let stem = lower.trim_end_matches(".pem").trim_end_matches(".key");
        let certificate = lower.ends_with(".pem")
            && (stem.contains("cert")
                || stem.contains("chain")
                || stem == "ca"
                || stem.ends_with("-ca")
                || stem.ends_with("_ca")
                || stem.contains("bundle")
                || stem.ends_with("pub")
                || stem.contains("public"));
        if !in_ca_dir && !certificate {
            return Some("private-key-file");
        }
    }
    None
}

/// Names that say their value is a secret (compared in upper case).
const SECRET_NAMES: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];

/// Whether a name (of an `ENV`, `ARG`, label or config key) says its value is a secret: it contains
/// PASSWORD/PASSWD/SECRET/TOKEN/API_KEY/PRIVATE_KEY/ACCESS_KEY/CREDENTIAL (any case) and does not
/// end in `_FILE`, `_PATH`, `_URL`, `_NAME`, … (which point at a secret rather than hold one).
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAMES.iter().any(|n| upper.contains(n)) && !excluded_key(&name.to_ascii_lowercase())
}

/// Whether a name/value pair (an `ENV`, `ARG` or label) holds a secret: a name containing
/// PASSWORD/PASSWD/SECRET/TOKEN/API_KEY/PRIVATE_KEY/ACCESS_KEY/CREDENTIAL with a non-empty,
/// non-placeholder value (names ending in `_FILE`, `_PATH`, `_URL`, … point at a secret, they do
/// not hold one), or any value [`scan`] flags. A value of a known kind (a GitHub token in
/// `GH_TOKEN`) is reported as that kind.
pub fn secret_assignment(name: &str, value: &str) -> Option<SecretMatch> {
    let value = value.trim().trim_matches(['"', '\'']);
    if value.is_empty() || value.len() > SCAN_PREFIX_LIMIT {
        return None;
    }
    let found = scan(value.as_bytes());
    // a known kind of token is named as such, whatever the variable is called
    if let Some(m) = found
        .iter()
        .find(|m| !matches!(m.rule, "password-assignment" | "secret-assignment"))
    {
        return Some(m.clone());
    }
    let upper = name.to_ascii_uppercase();
    let named = secret_name(name) && !is_placeholder(value);
    if named {
        let rule = if upper.contains("PASS") {
            "password-assignment"
        } else if upper.contains("AWS") && upper.contains("SECRET") && is_aws_secret(value) {
            "aws-secret-access-key"
        } else {
            "secret-assignment"
        };
        return Some(SecretMatch {
            rule,
            description: describe(rule),
            line: 1,
            redacted: redact(value),
        });
    }
    found.into_iter().next()
}

#[cfg(test)]
mod tests;
