//! Positive and negative vectors per rule. Fake tokens are assembled at run time so this file
//! never holds a string that looks like a live credential to repository scanners.

use super::*;
use proptest::prelude::*;

/// AWS's documented example key id and secret key.
const AWS_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn pem_key(kind: &str) -> String {
    let begin = ["-----BEGIN ", kind, " PRIVATE", " KEY-----"].concat();
    let end = ["-----END ", kind, " PRIVATE", " KEY-----"].concat();
    let body = "MIIEfakeFAKEfake0123456789fakeFAKEfake0123456789fakeFAKEfake0123";
    format!("{begin}\n{body}\n{body}\n{end}\n")
}

fn fake(prefix: &str, body: &str) -> String {
    [prefix, body].concat()
}

fn rules(data: &str) -> Vec<&'static str> {
    scan(data.as_bytes()).into_iter().map(|m| m.rule).collect()
}

#[test]
fn searcher_builds() {
    assert!(SEARCHERS.is_some(), "{} anchors", PATTERNS.len());
}

#[test]
fn private_keys() {
    for kind in ["RSA", "EC", "OPENSSH", "DSA"] {
        let text = format!("# key\n{}", pem_key(kind));
        let m = scan(text.as_bytes());
        assert_eq!(m.len(), 1, "{kind}: {m:?}");
        assert_eq!(m[0].rule, "private-key");
        assert_eq!(m[0].line, 2);
        assert_eq!(m[0].redacted, format!("BEGIN {kind} PRIVATE KEY"));
    }
    let plain = ["-----BEGIN ", "PRIVATE", " KEY-----"].concat();
    let m =
        scan(format!("{plain}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n").as_bytes());
    assert_eq!(m.len(), 1);
}

#[test]
fn private_key_negatives() {
    // a header without a body is code (a parser's constant), not a key
    let header = ["\"-----BEGIN ", "RSA PRIVATE", " KEY-----\""].concat();
    assert!(rules(&format!("const HEADER = {header};\nfn parse() {{}}\n")).is_empty());
    // public keys and certificates are not secrets
    let cert = "-----BEGIN CERTIFICATE-----\nMIIEfakeFAKEfake0123456789fakeFAKEfake0123456789\n";
    assert!(rules(cert).is_empty());
    // the END line alone is not reported
    let end = [
        "-----END ",
        "RSA PRIVATE",
        " KEY-----\nMIIEfakeFAKEfake0123456789fakeFAKEfake0123456789\n",
    ]
    .concat();
    assert!(rules(&end).is_empty());
}

#[test]
fn aws_access_key_id() {
    let m = scan(format!("aws_access_key_id = {AWS_ID}\n").as_bytes());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rule, "aws-access-key-id");
    assert_eq!(m[0].redacted, "AKIA…LE");
    assert_eq!(
        rules(&fake("id=ASIA", "IOSFODNN7EXAMPL2")),
        ["aws-access-key-id"]
    );
    // too short, too long, lowercase, inside a word
    assert!(rules("AKIAIOSFODNN7EXAMPL").is_empty());
    assert!(rules("AKIAIOSFODNN7EXAMPLEX").is_empty());
    assert!(rules("AKIAiosfodnn7example").is_empty());
    assert!(rules("XAKIAIOSFODNN7EXAMPLE").is_empty());
    assert!(rules("ASIA/Tokyo ASIA Pacific").is_empty());
}

#[test]
fn aws_secret_access_key() {
    let text =
        format!("[default]\naws_access_key_id={AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n");
    let m = scan(text.as_bytes());
    let got: Vec<(&str, usize)> = m.iter().map(|m| (m.rule, m.line)).collect();
    assert_eq!(
        got,
        [("aws-access-key-id", 2), ("aws-secret-access-key", 3)]
    );
    assert_eq!(m[1].redacted, "wJal…EY");
    // the same value under an unrelated name is not an AWS secret (but may be generic)
    assert!(rules(&format!("aws_region = {AWS_SECRET}")).is_empty());
}

#[test]
fn github_tokens() {
    let classic = fake("ghp_", "FAKE0123456789fake0123456789FAKE0123");
    assert_eq!(rules(&format!("GH={classic}")), ["github-pat"]);
    assert_eq!(
        rules(&fake("gho_", "FAKE0123456789fake0123456789FAKE0123")),
        ["github-oauth"]
    );
    let pat = fake(
        "github_pat_",
        "11FAKE0000_fake0123456789FAKEfake0123456789FAKEfake0123456789",
    );
    assert_eq!(rules(&pat), ["github-fine-grained-pat"]);
    // wrong length, inside a word, too short fine-grained
    assert!(rules(&fake("ghp_", "FAKE0123456789fake")).is_empty());
    assert!(rules(&fake("xghp_", "FAKE0123456789fake0123456789FAKE0123")).is_empty());
    assert!(rules(&fake("github_pat_", "short")).is_empty());
}

#[test]
fn gitlab_slack_stripe_google_npm() {
    assert_eq!(
        rules(&fake("glpat-", "FAKEfake0123456789xy")),
        ["gitlab-pat"]
    );
    assert!(rules(&fake("glpat-", "short")).is_empty());
    assert_eq!(
        rules(&fake("xoxb-", "0000000000-fakefakefake")),
        ["slack-access-token"]
    );
    assert!(rules("xoxb-123").is_empty());
    assert_eq!(
        rules(&fake("sk_live_", "FAKEfake0123456789FAKEfake")),
        ["stripe-secret-token"]
    );
    // test keys are keys too (trivy flags them)
    assert_eq!(
        rules(&fake("sk_test_", "FAKEfake0123456789FAKEfake")),
        ["stripe-secret-token"]
    );
    assert!(rules(&fake("sk_live_", "short")).is_empty());
    let google = fake("AIza", "FAKEfake0123456789FAKEfake012345678");
    assert_eq!(rules(&format!("key: {google}")), ["google-api-key"]);
    assert!(rules(&fake("AIza", "short")).is_empty());
    let npm = fake("npm_", "FAKEfake0123456789FAKEfake0123456789");
    assert_eq!(rules(&npm), ["npm-access-token"]);
}

#[test]
fn npmrc_auth_token() {
    let line = fake(
        "//registry.example.invalid/:_authToken=",
        "f4k3-0000-fake-TOKEN-1234",
    );
    let m = scan(line.as_bytes());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rule, "npmrc-auth-token");
    assert_eq!(m[0].redacted, "f4k3…34");
    assert!(rules("//registry.example.invalid/:_authToken=${NPM_TOKEN}").is_empty());
}

#[test]
fn jwt() {
    let token = [
        "eyJhbGciOiJIUzI1NiJ9",
        ".",
        "eyJzdWIiOiJmYWtlIn0",
        ".",
        "fakesignaturefakesig",
    ]
    .concat();
    let m = scan(format!("Authorization: Bearer {token}\n").as_bytes());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rule, "jwt-token");
    assert_eq!(m[0].redacted, "eyJh…ig");
    // a base64 JSON blob alone is not a JWT
    assert!(rules("data = eyJhbGciOiJIUzI1NiJ9\n").is_empty());
    assert!(rules("eyJhbGciOiJIUzI1NiJ9.notjson.sig").is_empty());
}

#[test]
fn generic_assignments() {
    let cases = [
        ("DB_PASSWORD=S3cr3t-Pa55w0rd!", "password-assignment"),
        ("password: \"hX9#kq2!Lm\"", "password-assignment"),
        (
            "{\"client_secret\": \"f4k3Secr3tValue99\"}",
            "secret-assignment",
        ),
        (
            "spring.datasource.password=Zq8vY2mXwP\n",
            "password-assignment",
        ),
        ("auth_token := 'a8F3kq9ZxLm2'", "secret-assignment"),
        ("dbPassword = \"Tr0ub4dor&3x\"", "password-assignment"),
        ("session_secret = x7k2-p9q3-m4n8", "secret-assignment"),
    ];
    for (text, rule) in cases {
        assert_eq!(rules(text), [rule], "{text}");
    }
}

#[test]
fn generic_negatives() {
    let cases = [
        "password=changeme",
        "PASSWORD=${DB_PASSWORD}",
        "password: \"{{ .Values.db.password }}\"",
        "password = self.config.password",
        "password = get_password(user)",
        "token = token",
        "secret=xxxxxxxxxxxx",
        "password=********",
        "api_key=<your-api-key-here>",
        "password == \"Sx8!kq2Lm\"",
        "PASSWORD_FILE=/run/secrets/db_password",
        "token_type: bearer-fake9",
        "tokenizer = Tok3nizer9X",
        "secretary=Jane.Doe.1970",
        "password = passwordField",
        "password=abc",
        "password=aaaaaaaaaaaa",
        "    if password != None:",
        "password: process.env.DB_PASSWORD",
    ];
    for text in cases {
        assert!(
            rules(text).is_empty(),
            "{text}: {:?}",
            scan(text.as_bytes())
        );
    }
}

#[test]
fn lines_are_one_based_and_increasing() {
    let text = format!("a\nb\nid={AWS_ID}\n\n{}\n", fake("token=", "Zq8vY2mXwP4k"));
    let m = scan(text.as_bytes());
    let lines: Vec<usize> = m.iter().map(|m| m.line).collect();
    assert_eq!(lines, [3, 5]);
}

#[test]
fn binary_data_is_skipped() {
    let mut data = vec![0u8; 4096];
    data.extend_from_slice(AWS_ID.as_bytes());
    assert!(scan(&data).is_empty());
    // a few NULs do not make a text file binary
    let mut text = format!("x\0y\nid={AWS_ID}\n").into_bytes();
    text.extend(std::iter::repeat_n(b'a', 200));
    assert_eq!(scan(&text).len(), 1);
}

#[test]
fn only_the_prefix_is_scanned() {
    let mut data = vec![b'a'; scan_prefix_limit()];
    data.extend_from_slice(format!(" {AWS_ID}").as_bytes());
    assert!(scan(&data).is_empty());
    data[10] = b' ';
    data[11..31].copy_from_slice(AWS_ID.as_bytes());
    data[31] = b' ';
    assert_eq!(scan(&data).len(), 1);
}

#[test]
fn matches_are_capped() {
    let text = format!("{AWS_ID}\n").repeat(1000);
    assert_eq!(scan(text.as_bytes()).len(), MAX_MATCHES);
}

#[test]
fn redaction() {
    assert_eq!(redact("AKIAIOSFODNN7EXAMPLE"), "AKIA…LE");
    assert_eq!(redact("hunter22"), "hu…2");
    assert_eq!(redact("abc"), "…");
    assert_eq!(redact(""), "…");
    assert_eq!(redact("pässwörtçhën-ünïcode"), "päss…de");
}

#[test]
fn entropy_and_placeholders() {
    assert_eq!(entropy(b""), 0.0);
    assert_eq!(entropy(b"aaaa"), 0.0);
    assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
    assert!(entropy(AWS_SECRET.as_bytes()) > 4.0);
    for p in [
        "changeme",
        "${X}",
        "$X",
        "<token>",
        "xxxxxx",
        "****",
        "",
        "  ",
        "your_key_here",
    ] {
        assert!(is_placeholder(p), "{p}");
    }
    for p in ["hunter2", "S3cr3t!", AWS_SECRET] {
        assert!(!is_placeholder(p), "{p}");
    }
}

#[test]
fn file_names() {
    let yes = [
        (".env", "env-file"),
        ("app/.env.production", "env-file"),
        ("/root/.ssh/id_rsa", "ssh-private-key-file"),
        ("id_ed25519", "ssh-private-key-file"),
        ("certs/server.key", "private-key-file"),
        ("tls/server.pem", "private-key-file"),
        ("client.p12", "keystore-file"),
        ("/home/u/.npmrc", "npmrc-file"),
        (".pypirc", "pypirc-file"),
        ("/root/.netrc", "netrc-file"),
        (".git-credentials", "git-credentials-file"),
        ("/root/.aws/credentials", "aws-credentials-file"),
        ("/root/.docker/config.json", "docker-config-file"),
        ("infra/terraform.tfstate", "terraform-state-file"),
        ("ID_RSA", "ssh-private-key-file"),
    ];
    for (path, rule) in yes {
        assert_eq!(secret_file_name(path), Some(rule), "{path}");
    }
    let no = [
        ".env.example",
        ".env.sample",
        "/root/.ssh/id_rsa.pub",
        "/etc/ssl/certs/ca-certificates.pem",
        "/etc/ssl/certs/ISRG_Root_X1.pem",
        "/usr/share/ca-certificates/mozilla/x.pem",
        "tls/cert.pem",
        "tls/fullchain.pem",
        "environment",
        "keys.txt",
        "config.json",
        "src/credentials.rs",
        "",
        "/",
    ];
    for path in no {
        assert_eq!(secret_file_name(path), None, "{path}");
    }
}

#[test]
fn assignments_by_name() {
    let m = secret_assignment("API_TOKEN", "hunter2").unwrap();
    assert_eq!(m.rule, "secret-assignment");
    assert_eq!(m.line, 1);
    assert!(!m.redacted.contains("hunter2"));
    assert_eq!(
        secret_assignment("DB_PASSWORD", "\"s3cret\"").map(|m| m.rule),
        Some("password-assignment")
    );
    assert_eq!(
        secret_assignment("AWS_SECRET_ACCESS_KEY", AWS_SECRET).map(|m| m.rule),
        Some("aws-secret-access-key")
    );
    assert_eq!(
        secret_assignment("GOOGLE_CREDENTIALS", "{\"x\":1}").map(|m| m.rule),
        Some("secret-assignment")
    );
    // a known kind wins over the name's generic rule
    let hf = fake("hf_", "FAKEfake0123456789FAKEfake01234567");
    assert_eq!(
        secret_assignment("HF_TOKEN", &hf).map(|m| m.rule),
        Some("hugging-face-access-token")
    );
    // any value scan flags, whatever the name
    assert_eq!(
        secret_assignment("BOOTSTRAP", AWS_ID).map(|m| m.rule),
        Some("aws-access-key-id")
    );
    for (name, value) in [
        ("API_TOKEN", ""),
        ("API_TOKEN", "${API_TOKEN}"),
        ("DB_PASSWORD", "changeme"),
        ("POSTGRES_PASSWORD_FILE", "/run/secrets/pg"),
        ("SECRET_PATH", "/etc/app/secret"),
        ("PATH", "/usr/local/bin:/usr/bin"),
        ("GOLANG_VERSION", "1.22.1"),
        ("maintainer", "someone@example.invalid"),
    ] {
        assert_eq!(secret_assignment(name, value), None, "{name}={value}");
    }
}

proptest! {
    #[test]
    fn scan_never_panics(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        for m in scan(&data) {
            prop_assert!(m.line >= 1);
            prop_assert!(m.line <= data.iter().filter(|b| **b == b'\n').count() + 1);
        }
    }

    #[test]
    fn never_returns_the_full_secret(
        pre in "[ -~\n]{0,40}",
        body in "[A-Za-z0-9]{36}",
        which in 0usize..5,
    ) {
        let secret = match which {
            0 => fake("ghp_", &body),
            1 => fake("AKIA", &body[..16].to_ascii_uppercase()),
            2 => fake("sk_live_", &body),
            3 => fake("glpat-", &body),
            _ => fake("AIza", &body[..35]),
        };
        let text = format!("{pre} {secret}\n");
        let found = scan(text.as_bytes());
        prop_assert!(!found.is_empty(), "{text:?}");
        for m in &found {
            prop_assert!(!m.redacted.contains(&secret));
            prop_assert!(m.redacted.chars().filter(|c| *c != '…').count() <= 6);
        }
    }

    #[test]
    fn assignments_never_echo_the_value(name in "[A-Z_]{1,20}", value in "[!-~]{1,64}") {
        if let Some(m) = secret_assignment(&name, &value) {
            prop_assert!(value.len() < 3 || !m.redacted.contains(value.as_str()));
        }
    }
}

#[test]
fn code_is_not_a_secret() {
    let cases = [
        "        tokens = processed[state] = []",
        "        statetokens = tokendefs[statestack[-1]]",
        "    AttributeOID.CHALLENGE_PASSWORD: \"challengePassword\",",
        "        username: Optional[str], password: Optional[HiddenText]",
        "        print(f\"password={password!r}\")",
        "TokenType = Tuple[str, ...]",
        "    refresh_token_key = 'refresh_token'",
        "# hashedPassword = base64_encoded_64_byte_salt W base64_encoded_hash W hash_algorithm",
    ];
    for text in cases {
        assert!(
            rules(text).is_empty(),
            "{text}: {:?}",
            scan(text.as_bytes())
        );
    }
}

#[test]
fn prose_paths_and_settings_are_not_secrets() {
    let cases = [
        "    'Pod::Simple::PullParserEndToken'=> 'https://github.com/perl-pod/pod-simple/issues',",
        "//     %sudo ALL=(root) NOPASSWD: /bin/systemctl restart apt-cacher-ng.service",
        "passwd: elevated-privileges 2755 root/shadow [usr/bin/chage]",
        "__mvncomp \"username= message= passphrase= password= scmVersion= x\"",
        "#password_encryption = scram-sha-256\t# scram-sha-256 or md5",
    ];
    for text in cases {
        assert!(
            rules(text).is_empty(),
            "{text}: {:?}",
            scan(text.as_bytes())
        );
    }
}

#[test]
fn known_kinds_win_over_generic_assignments() {
    let pat = fake("ghp_", "FAKE0123456789fake0123456789FAKE0123");
    assert_eq!(rules(&format!("GH_TOKEN={pat}\n")), ["github-pat"]);
    let hf = fake("hf_", "FAKEfake0123456789FAKEfake01234567");
    assert_eq!(
        rules(&format!("export HF_TOKEN=\"{hf}\"\n")),
        ["hugging-face-access-token"]
    );
    assert_eq!(
        rules("db_password = \"Zx9vQ2mL7pR4tW8kN\"\n"),
        ["password-assignment"]
    );
}

#[test]
fn gcp_docker_and_vendor_keys() {
    let key = pem_key("")
        .replace("-----BEGIN  ", "-----BEGIN ")
        .replace("-----END  ", "-----END ");
    let json = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n  \"private_key\": \"{}\"\n}}\n",
        key.replace('\n', "\\n")
    );
    assert_eq!(rules(&json), ["gcp-service-account", "private-key"]);
    // a service-account name without a key is not a secret
    assert!(rules("{\"type\": \"service_account\"}").is_empty());
    let auth = "{\"auths\": {\"registry.invalid\": {\"auth\": \"dXNlcjpGNGszUGFzc3cwcmQ=\"}}}";
    assert_eq!(rules(auth), ["docker-config-auth"]);
    assert!(rules("{\"auth\": \"dXNlcm5hbWU=\"}").is_empty());
    let uuid = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    assert_eq!(
        rules(&format!("export HEROKU_API_KEY=\"{uuid}\"\n")),
        ["heroku-api-key"]
    );
    assert!(rules(&format!("heroku_api_key = {uuid}\n")).len() <= 1);
}

#[test]
fn every_rule_is_described_once() {
    let mut ids: Vec<&str> = RULES.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a rule id is listed twice");
    let mut rules_used: Vec<&str> = Vec::new();
    let kinds = PATTERNS
        .iter()
        .map(|(_, k)| *k)
        .chain(VENDORS.iter().map(|(_, shapes)| Kind::Vendor(shapes)));
    for kind in kinds {
        if let Kind::Token(shapes) | Kind::Vendor(shapes) = kind {
            rules_used.extend(shapes.iter().map(|s| s.rule));
        }
    }
    for rule in rules_used {
        assert_ne!(describe(rule), "secret", "{rule} has no description");
    }
    assert_eq!(VENDORS.len(), VENDOR_PARTS.len());
    for ((name, _), parts) in VENDORS.iter().zip(VENDOR_PARTS) {
        for part in *parts {
            assert!(
                name.contains(part) || part.starts_with(name),
                "{part} is not part of {name}"
            );
        }
    }
}

#[test]
fn many_service_account_values_stay_linear() {
    let data = "{\"type\": \"service_account\"}\n".repeat(30_000);
    let t = std::time::Instant::now();
    assert!(rules(&data).is_empty());
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn passes_deal_alike_patterns_to_one_bucket() {
    let parts: Vec<&'static str> = vec!["b1", "a1", "c1", "a2", "b2", "c2", "a3", "d1", "e1"];
    let ids: Vec<usize> = (0..parts.len()).collect();
    let (order, _) = bucket_order(parts, ids);
    // 9 patterns, 8 buckets: the sorted run of two shares bucket 0, the others one each
    assert_eq!(
        order,
        ["a1", "a3", "b1", "b2", "c1", "c2", "d1", "e1", "a2"]
    );
    // no pattern of a pass starts another, so the order within a pass cannot change a match
    for pass in &SEARCHERS.as_ref().unwrap().0 {
        let words: Vec<&str> = pass.anchors.iter().map(|a| a[0].word).collect();
        for (i, a) in words.iter().enumerate() {
            for (j, b) in words.iter().enumerate() {
                assert!(i == j || a == b || !b.starts_with(a), "{a} starts {b}");
            }
        }
    }
}
