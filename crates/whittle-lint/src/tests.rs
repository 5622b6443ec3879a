//! Per-rule positive and negative cases.

use super::*;
use proptest::prelude::*;

fn rules(text: &str) -> Vec<(String, usize)> {
    lint("Dockerfile", text)
        .unwrap()
        .into_iter()
        .map(|f| (f.rule, f.location.line.unwrap_or(0)))
        .collect()
}

fn has(text: &str, rule: &str) -> bool {
    rules(text).iter().any(|(r, _)| r == rule)
}

#[test]
fn secret_copied_then_removed() {
    let df = "FROM debian:12\nCOPY id_rsa /root/.ssh/id_rsa\nRUN git clone git@example.invalid:x.git && rm /root/.ssh/id_rsa\nUSER 1000\n";
    let f = lint("Dockerfile", df).unwrap();
    let hit = f.iter().find(|f| f.rule == "secret-removed-later").unwrap();
    assert_eq!(hit.severity, Severity::Critical);
    assert_eq!(hit.location.line, Some(2));
    assert_eq!(hit.location.column, Some(1));
    assert_eq!(hit.location.artifact.as_deref(), Some("Dockerfile"));
    assert!(hit.message.contains("removed at line 3"), "{}", hit.message);
    assert!(!has(df, "secret-file-copied"));
    // relative to WORKDIR, removal of the directory
    let df = "FROM debian:12\nWORKDIR /app\nCOPY .env ./\nRUN rm -rf /app\nUSER 1\n";
    assert!(has(df, "secret-removed-later"));
    // a removal in the same RUN as the use is not a COPY+rm
    let df =
        "FROM debian:12\nRUN --mount=type=secret,id=key cp /run/secrets/key k && rm k\nUSER 1\n";
    assert!(rules(df).is_empty(), "{:?}", rules(df));
}

#[test]
fn secret_file_copied_and_plain_files() {
    assert!(has(
        "FROM a:1\nCOPY .npmrc /app/\nUSER 1\n",
        "secret-file-copied"
    ));
    assert!(has(
        "FROM a:1\nADD [\"certs/server.key\", \"/etc/tls/\"]\nUSER 1\n",
        "secret-file-copied"
    ));
    assert!(!has(
        "FROM a:1\nCOPY app.py /app/\nUSER 1\n",
        "secret-file-copied"
    ));
    assert!(!has(
        "FROM a:1\nCOPY .env.example /app/\nUSER 1\n",
        "secret-file-copied"
    ));
    // a plain file copied and removed wastes space
    let df = "FROM a:1\nCOPY big.tar /tmp/\nRUN tar xf /tmp/big.tar && rm /tmp/big.tar\nUSER 1\n";
    assert_eq!(rules(df), [("removed-later".to_string(), 2)]);
    // in a build stage that does not ship: a lower severity
    let df = "FROM a:1 AS build\nCOPY id_rsa /root/.ssh/\nFROM b:1\nUSER 1\n";
    let f = lint("Dockerfile", df).unwrap();
    assert_eq!(f[0].rule, "secret-file-copied");
    assert_eq!(f[0].severity, Severity::Medium);
}

#[test]
fn env_arg_label_secrets() {
    let f = lint(
        "Dockerfile",
        "FROM a:1\nENV API_TOKEN=f4k3-t0ken-value DEBUG=1\nUSER 1\n",
    )
    .unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, "env-secret");
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].evidence.as_deref(), Some("f4k3…ue"));
    assert!(has(
        "FROM a:1\nENV DB_PASSWORD hunter2 with spaces\nUSER 1\n",
        "env-secret"
    ));
    assert!(has(
        "FROM a:1\nENV BOOT AKIAIOSFODNN7EXAMPLE\nUSER 1\n",
        "env-secret"
    ));
    assert!(has(
        "FROM a:1\nARG NPM_TOKEN\nENV NPM_TOKEN=${NPM_TOKEN}\nUSER 1\n",
        "env-secret-from-arg"
    ));
    let f = lint(
        "Dockerfile",
        "ARG GITHUB_TOKEN=s3cr3t-d3fault\nFROM a:1\nARG NPM_TOKEN\nUSER 1\n",
    )
    .unwrap();
    let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
    assert_eq!(
        got,
        [
            ("arg-secret", Severity::High),
            ("arg-secret", Severity::Medium)
        ]
    );
    assert!(has(
        "FROM a:1\nLABEL deploy.password=\"Zq8vY2mX\"\nUSER 1\n",
        "label-secret"
    ));
    // names that point at secrets and harmless values
    for df in [
        "FROM a:1\nENV POSTGRES_PASSWORD_FILE=/run/secrets/pg\nUSER 1\n",
        "FROM a:1\nENV PATH=/usr/local/bin:$PATH GOLANG_VERSION=1.22\nUSER 1\n",
        "FROM a:1\nARG VERSION=1.0\nLABEL maintainer=\"a@example.invalid\"\nUSER 1\n",
        "FROM a:1\nENV DB_PASSWORD=changeme\nUSER 1\n",
    ] {
        assert!(rules(df).is_empty(), "{df}: {:?}", rules(df));
    }
}

#[test]
fn secret_in_run() {
    let df = "FROM a:1\nRUN curl -H \"Authorization: Bearer AKIAIOSFODNN7EXAMPLE\" https://x.invalid/\nUSER 1\n";
    assert_eq!(rules(df), [("secret-in-run".to_string(), 2)]);
}

#[test]
fn user_rules() {
    assert_eq!(rules("FROM a:1\n"), [("runs-as-root".to_string(), 1)]);
    assert_eq!(
        rules("FROM a:1\nUSER root\n"),
        [("runs-as-root".to_string(), 2)]
    );
    assert_eq!(
        rules("FROM a:1\nUSER 0:0\n"),
        [("runs-as-root".to_string(), 2)]
    );
    assert!(rules("FROM a:1\nUSER app\n").is_empty());
    // USER in a build stage does not count for the final one
    assert_eq!(
        rules("FROM a:1 AS b\nUSER app\nFROM c:1\n"),
        [("runs-as-root".to_string(), 3)]
    );
    // ...unless the final stage builds on it
    assert!(rules("FROM a:1 AS b\nUSER app\nFROM b\nRUN true\n").is_empty());
    // the last USER wins
    assert!(rules("FROM a:1\nUSER root\nRUN x\nUSER 65532\n").is_empty());
    // nonroot bases run as nonroot
    assert!(rules("FROM gcr.io/distroless/static-debian12:nonroot\n").is_empty());
}

#[test]
fn package_caches() {
    let apt = "FROM a:1\nRUN apt-get update && apt-get install -y curl\nUSER 1\n";
    assert_eq!(rules(apt), [("package-cache".to_string(), 2)]);
    assert!(!has(
        "FROM a:1\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nUSER 1\n",
        "package-cache"
    ));
    assert!(!has(
        "FROM a:1\nRUN --mount=type=cache,target=/var/cache/apt apt-get install -y curl\nUSER 1\n",
        "package-cache"
    ));
    assert!(has("FROM a:1\nRUN apk add curl\nUSER 1\n", "package-cache"));
    assert!(!has(
        "FROM a:1\nRUN apk add --no-cache curl\nUSER 1\n",
        "package-cache"
    ));
    assert!(has(
        "FROM a:1\nRUN pip install flask\nUSER 1\n",
        "package-cache"
    ));
    assert!(!has(
        "FROM a:1\nRUN pip install --no-cache-dir flask\nUSER 1\n",
        "package-cache"
    ));
    assert!(!has(
        "FROM a:1\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\nUSER 1\n",
        "package-cache"
    ));
    assert!(has("FROM a:1\nRUN npm ci\nUSER 1\n", "package-cache"));
    assert!(!has(
        "FROM a:1\nRUN npm ci && npm cache clean --force\nUSER 1\n",
        "package-cache"
    ));
    // a build stage's caches do not ship
    assert!(!has(
        "FROM a:1 AS b\nRUN apt-get install -y gcc\nFROM c:1\nUSER 1\n",
        "package-cache"
    ));
    // heredoc RUN
    assert!(has(
        "FROM a:1\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\nUSER 1\n",
        "package-cache"
    ));
}

#[test]
fn toolchains() {
    assert_eq!(
        rules("FROM golang:1.22\nCOPY . .\nRUN go build -o /app\nUSER 1\n"),
        [("toolchain-kept".to_string(), 1)]
    );
    assert!(has(
        "FROM debian:12\nRUN apt-get install -y build-essential && rm -rf /var/lib/apt/lists/*\nUSER 1\n",
        "toolchain-kept"
    ));
    assert!(has(
        "FROM node:20\nRUN npm run build\nUSER 1\n",
        "toolchain-kept"
    ));
    // multi-stage keeps the toolchain out
    assert!(!has(
        "FROM golang:1.22 AS b\nRUN go build -o /app\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=b /app /app\n",
        "toolchain-kept"
    ));
    assert!(!has(
        "FROM debian:12\nRUN apt-get install -y gawk && rm -rf /var/lib/apt/lists/*\nUSER 1\n",
        "toolchain-kept"
    ));
}

#[test]
fn base_images() {
    assert_eq!(
        rules("FROM ubuntu:latest\nUSER 1\n"),
        [("base-latest".to_string(), 1)]
    );
    assert_eq!(
        rules("FROM ubuntu\nUSER 1\n"),
        [("base-unpinned".to_string(), 1)]
    );
    assert_eq!(
        rules("FROM localhost:5000/app\nUSER 1\n"),
        [("base-unpinned".to_string(), 1)]
    );
    for ok in [
        "FROM ubuntu:24.04\nUSER 1\n",
        "FROM ubuntu@sha256:0000000000000000000000000000000000000000000000000000000000000000\nUSER 1\n",
        "FROM scratch\nUSER 1\n",
        "ARG BASE=x\nFROM $BASE\nUSER 1\n",
        "FROM a:1 AS b\nFROM b\nUSER 1\n",
    ] {
        assert!(rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
}

#[test]
fn add_url_curl_sh_upgrade_sudo() {
    assert!(has(
        "FROM a:1\nADD https://x.invalid/t.tgz /t.tgz\nUSER 1\n",
        "add-url"
    ));
    assert!(!has(
        "FROM a:1\nADD --checksum=sha256:00 https://x.invalid/t.tgz /t.tgz\nUSER 1\n",
        "add-url"
    ));
    assert!(!has("FROM a:1\nADD t.tgz /\nUSER 1\n", "add-url"));
    assert!(has(
        "FROM a:1\nRUN curl -fsSL https://x.invalid/i.sh | sh\nUSER 1\n",
        "curl-pipe-shell"
    ));
    assert!(has(
        "FROM a:1\nRUN wget -qO- https://x.invalid/i.sh | sudo bash -\nUSER 1\n",
        "curl-pipe-shell"
    ));
    assert!(!has(
        "FROM a:1\nRUN curl -fsSLo i.sh https://x.invalid/i.sh && sha256sum -c s && sh i.sh\nUSER 1\n",
        "curl-pipe-shell"
    ));
    assert!(has(
        "FROM a:1\nRUN apt-get update && apt-get -y upgrade\nUSER 1\n",
        "apt-get-upgrade"
    ));
    assert!(has(
        "FROM a:1\nRUN apt-get update && apt-get upgrade -y\nUSER 1\n",
        "apt-get-upgrade"
    ));
    assert!(has("FROM a:1\nRUN sudo make install\nUSER 1\n", "sudo"));
    assert!(!has("FROM a:1\nRUN echo sudo\nUSER 1\n", "sudo"));
}

#[test]
fn rules_table_covers_every_rule() {
    let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let df = "FROM ubuntu:latest\nADD https://x.invalid/a /a\nCOPY id_rsa /r/\nCOPY .env /e/\nRUN rm /e/.env && sudo apt-get upgrade && curl x | sh && apt-get install -y gcc\nENV API_TOKEN=abcdefgh1\nARG X_PASSWORD=Zq8vY2mX\nENV NPM_TOKEN=$X\nLABEL k.secret=Zq8vY2mX\nRUN echo AKIAIOSFODNN7EXAMPLE\nCOPY big /b\nRUN rm /b\nUSER root\n";
    for (rule, _) in rules(df) {
        assert!(ids.contains(&rule.as_str()), "{rule} missing from RULES");
    }
    assert!(rules(df).len() >= 12, "{:?}", rules(df));
}

proptest! {
    #[test]
    fn lint_never_panics_and_lines_are_inside(text in "(?s)(FROM|RUN|COPY|ADD|ENV|ARG|USER|LABEL|WORKDIR|[ -~]|\n|\\\\|<<EOF|EOF){0,200}") {
        let lines = text.split('\n').count();
        for f in lint("Dockerfile", &text).unwrap() {
            let line = f.location.line.unwrap();
            prop_assert!(line >= 1 && line <= lines);
        }
    }
}
