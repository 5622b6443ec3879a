//! whittle's secret rules are at least as wide as trivy's built-in set: an image written here
//! (an OCI layout of three layers) holds one synthetic secret of every kind trivy has a rule for,
//! some in files a later layer deletes (whiteouts) or hides (an opaque directory). trivy, run
//! offline, and `whittle audit` read it; every (path, kind) trivy reports, whittle reports too.
//! The fixture images' own files give no secret finding at all.
//!
//! Every secret is generated here from a fixed seed: right lengths and alphabets, never a real
//! key.

mod common;

use common::*;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A small deterministic generator (xorshift), so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| char::from(a[(self.next() % a.len() as u64) as usize]))
            .collect()
    }
}

const UP: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const AN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &str = "0123456789abcdef";
const AH: &str = "0123456789abcdefgh";
const DIG: &str = "0123456789";
const LOW: &str = "abcdefghijklmnopqrstuvwxyz";
const B64: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
const BECH32: &str = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

fn b64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One file per kind: `(kind, file content)`. The kinds are trivy's built-in rule ids, plus
/// `docker-config-auth` (whittle's own: trivy has no rule for config.json `auth` entries).
fn corpus() -> Vec<(&'static str, String)> {
    let mut r = Rng(0x0005_eed0_f5ec_7e75);
    let mut v: Vec<(&'static str, String)> = Vec::new();
    let uuid = |r: &mut Rng| {
        format!(
            "{}-{}-{}-{}-{}",
            r.pick(HEX, 8),
            r.pick(HEX, 4),
            r.pick(HEX, 4),
            r.pick(HEX, 4),
            r.pick(HEX, 12)
        )
    };
    let pem = |r: &mut Rng, kind: &str, nl: &str| {
        let (b, e) = (
            ["-----BEGIN ", kind, "PRIVATE", " KEY-----"].concat(),
            ["-----END ", kind, "PRIVATE", " KEY-----"].concat(),
        );
        format!(
            "{b}{nl}MIIE{}{nl}{}{nl}{}=={nl}{e}{nl}",
            r.pick(B64, 60),
            r.pick(B64, 64),
            r.pick(B64, 42)
        )
    };
    v.push(("private-key", pem(&mut r, "RSA ", "\n")));
    v.push((
        "aws-access-key-id",
        format!("aws_access_key_id = AKIA{}\n", r.pick(UP, 16)),
    ));
    v.push((
        "aws-secret-access-key",
        format!("aws_secret_access_key = {}\n", r.pick(B64, 40)),
    ));
    let gh = |r: &mut Rng, p: &str, n: usize| format!("{p}{}", r.pick(AN, n));
    v.push((
        "github-pat",
        format!("GH_TOKEN={}\n", gh(&mut r, "ghp_", 36)),
    ));
    v.push((
        "github-oauth",
        format!("oauth: {}\n", gh(&mut r, "gho_", 36)),
    ));
    v.push((
        "github-app-token",
        format!("app: {}\n", gh(&mut r, "ghs_", 36)),
    ));
    v.push((
        "github-refresh-token",
        format!("refresh: {}\n", gh(&mut r, "ghr_", 76)),
    ));
    v.push((
        "github-fine-grained-pat",
        format!("pat: github_pat_{}_{}\n", r.pick(AN, 22), r.pick(AN, 59)),
    ));
    v.push(("gitlab-pat", format!("gitlab: glpat-{}\n", r.pick(AN, 20))));
    v.push((
        "hugging-face-access-token",
        format!("HF_TOKEN=hf_{}\n", r.pick(AN, 34)),
    ));
    v.push((
        "shopify-token",
        format!("shop: shpat_{}\n", r.pick(HEX, 32)),
    ));
    v.push((
        "slack-access-token",
        format!("slack: xoxb-{}\n", r.pick(AN, 24)),
    ));
    v.push((
        "stripe-publishable-token",
        format!("publishable: pk_live_{}\n", r.pick(AN, 24)),
    ));
    v.push((
        "stripe-secret-token",
        format!("stripe: sk_live_{}\n", r.pick(AN, 24)),
    ));
    v.push((
        "pypi-upload-token",
        format!("password: pypi-AgEIcHlwaS5vcmc{}\n", r.pick(AN, 60)),
    ));
    let key = pem(&mut r, "", "\\n");
    v.push((
        "gcp-service-account",
        format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{key}\",\n  \"client_email\": \"svc@demo.iam.gserviceaccount.com\"\n}}\n",
            r.pick(HEX, 40)
        ),
    ));
    v.push((
        "heroku-api-key",
        format!("export HEROKU_API_KEY=\"{}\"\n", uuid(&mut r)),
    ));
    v.push((
        "slack-web-hook",
        format!(
            "url: https://hooks.slack.com/services/T{}/B{}/{}\n",
            r.pick(UP, 8),
            r.pick(UP, 8),
            r.pick(AN, 24)
        ),
    ));
    v.push(("twilio-api-key", format!("twilio: SK{}\n", r.pick(HEX, 32))));
    v.push((
        "age-secret-key",
        format!("AGE-SECRET-KEY-1{}\n", r.pick(BECH32, 58)),
    ));
    let vendor = |r: &mut Rng, key: &str, value: String| {
        let _ = r;
        format!("{key} = \"{value}\"\n")
    };
    let s = r.pick(HEX, 32);
    v.push(("facebook-token", vendor(&mut r, "facebook_app", s)));
    let s = r.pick(HEX, 40);
    v.push(("twitter-token", vendor(&mut r, "twitter_consumer", s)));
    let s = r.pick(HEX, 32);
    v.push(("adobe-client-id", vendor(&mut r, "adobe_client_id", s)));
    v.push((
        "adobe-client-secret",
        format!("adobe: p8e-{}\n", r.pick(AN, 32)),
    ));
    v.push((
        "alibaba-access-key-id",
        format!("ali: LTAI{}\n", r.pick(AN, 20)),
    ));
    let s = r.pick(AN, 30);
    v.push(("alibaba-secret-key", vendor(&mut r, "alibaba_key", s)));
    let s = r.pick(DIG, 16);
    v.push(("asana-client-id", vendor(&mut r, "asana_client_id", s)));
    let s = r.pick(AN, 32);
    v.push(("asana-client-secret", vendor(&mut r, "asana_client", s)));
    let s = r.pick(AN, 24);
    v.push(("atlassian-api-token", vendor(&mut r, "atlassian_api", s)));
    let s = r.pick(AN, 32);
    v.push((
        "bitbucket-client-id",
        vendor(&mut r, "bitbucket_client_id", s),
    ));
    let s = r.pick(AN, 64);
    v.push((
        "bitbucket-client-secret",
        vendor(&mut r, "bitbucket_client", s),
    ));
    let s = format!("b_{}", r.pick(AN, 44));
    v.push(("beamer-api-token", vendor(&mut r, "beamer_api", s)));
    v.push((
        "clojars-api-token",
        format!("clojars: CLOJARS_{}\n", r.pick(AN, 60)),
    ));
    let s = r.pick(AN, 43);
    v.push((
        "contentful-delivery-api-token",
        vendor(&mut r, "contentful_delivery", s),
    ));
    v.push((
        "databricks-api-token",
        format!("databricks: dapi{}\n", r.pick(AH, 32)),
    ));
    let s = r.pick(AH, 64);
    v.push(("discord-api-token", vendor(&mut r, "discord_api", s)));
    let s = r.pick(DIG, 18);
    v.push(("discord-client-id", vendor(&mut r, "discord_client_id", s)));
    let s = r.pick(AN, 32);
    v.push(("discord-client-secret", vendor(&mut r, "discord_client", s)));
    v.push((
        "doppler-api-token",
        format!("doppler: \"dp.pt.{}\"\n", r.pick(AN, 43)),
    ));
    let s = r.pick(AN, 15);
    v.push(("dropbox-api-secret", vendor(&mut r, "dropbox_app", s)));
    let s = format!("sl.{}", r.pick(AN, 135));
    v.push((
        "dropbox-short-lived-api-token",
        vendor(&mut r, "dropbox_short", s),
    ));
    let s = format!("{}AAAAAAAAAA{}", r.pick(LOW, 11), r.pick(AN, 43));
    v.push((
        "dropbox-long-lived-api-token",
        vendor(&mut r, "dropbox_long", s),
    ));
    v.push((
        "duffel-api-token",
        format!("duffel: \"duffel_live_{}\"\n", r.pick(AN, 43)),
    ));
    v.push((
        "dynatrace-api-token",
        format!(
            "dynatrace: \"dt0c01.{}.{}\"\n",
            r.pick(UP, 24),
            r.pick(UP, 64)
        ),
    ));
    v.push((
        "easypost-api-token",
        format!("easypost: \"EZAK{}\"\n", r.pick(AN, 54)),
    ));
    let s = r.pick(AN, 32);
    v.push(("fastly-api-token", vendor(&mut r, "fastly_api", s)));
    let s = r.pick(AN, 20);
    v.push((
        "finicity-client-secret",
        vendor(&mut r, "finicity_client", s),
    ));
    let s = r.pick(HEX, 32);
    v.push(("finicity-api-token", vendor(&mut r, "finicity_api", s)));
    v.push((
        "flutterwave-public-key",
        format!("flw: FLWSECK_TEST-{}-X\n", r.pick(AH, 32)),
    ));
    v.push((
        "flutterwave-enc-key",
        format!("flw: FLWSECK_TEST{}\n", r.pick(AH, 12)),
    ));
    v.push((
        "frameio-api-token",
        format!("frameio: fio-u-{}\n", r.pick(AN, 64)),
    ));
    v.push((
        "gocardless-api-token",
        format!("gocardless: \"live_{}\"\n", r.pick(AN, 40)),
    ));
    v.push((
        "grafana-api-token",
        format!("grafana: \"eyJrIjoi{}\"\n", r.pick(AN, 80)),
    ));
    v.push((
        "hashicorp-tf-api-token",
        format!(
            "terraform: \"{}.atlasv1.{}\"\n",
            r.pick(AN, 14),
            r.pick(AN, 64)
        ),
    ));
    let s = uuid(&mut r);
    v.push(("hubspot-api-token", vendor(&mut r, "hubspot_api", s)));
    let s = r.pick(AN, 60);
    v.push(("intercom-api-token", vendor(&mut r, "intercom_api", s)));
    let s = uuid(&mut r);
    v.push((
        "intercom-client-secret",
        vendor(&mut r, "intercom_client", s),
    ));
    let s = format!("ion_{}", r.pick(AN, 42));
    v.push(("ionic-api-token", vendor(&mut r, "ionic_api", s)));
    v.push((
        "jwt-token",
        format!(
            "Authorization: Bearer eyJ{}.eyJ{}.{}\n",
            r.pick(AN, 20),
            r.pick(AN, 30),
            r.pick(AN, 30)
        ),
    ));
    v.push((
        "linear-api-token",
        format!("linear: lin_api_{}\n", r.pick(AN, 40)),
    ));
    let s = r.pick(HEX, 32);
    v.push(("linear-client-secret", vendor(&mut r, "linear_client", s)));
    let s = format!("live_{}", r.pick(HEX, 35));
    v.push(("lob-api-key", vendor(&mut r, "lob_api", s)));
    let s = format!("test_pub_{}", r.pick(HEX, 31));
    v.push(("lob-pub-api-key", vendor(&mut r, "lob_pub", s)));
    let s = format!("{}-us20", r.pick(HEX, 32));
    v.push(("mailchimp-api-key", vendor(&mut r, "mailchimp_api", s)));
    let s = format!("key-{}", r.pick(HEX, 32));
    v.push(("mailgun-token", vendor(&mut r, "mailgun_api", s)));
    let s = format!("{}-{}-{}", r.pick(HEX, 32), r.pick(HEX, 8), r.pick(HEX, 8));
    v.push(("mailgun-signing-key", vendor(&mut r, "mailgun_signing", s)));
    v.push((
        "mapbox-api-token",
        format!("mapbox: pk.{}.{}\n", r.pick(AN, 60), r.pick(AN, 22)),
    ));
    let s = r.pick(AN, 25);
    v.push((
        "messagebird-api-token",
        vendor(&mut r, "messagebird_api", s),
    ));
    let s = uuid(&mut r);
    v.push((
        "messagebird-client-id",
        vendor(&mut r, "messagebird_client", s),
    ));
    v.push((
        "new-relic-user-api-key",
        format!("newrelic_user: \"NRAK-{}\"\n", r.pick(UP, 27)),
    ));
    let s = r.pick(UP, 64);
    v.push((
        "new-relic-user-api-id",
        vendor(&mut r, "newrelic_user_id", s),
    ));
    v.push((
        "new-relic-browser-api-token",
        format!("browser: \"NRJS-{}\"\n", r.pick(HEX, 19)),
    ));
    v.push((
        "npm-access-token",
        format!("npm: \"npm_{}\"\n", r.pick(AN, 36)),
    ));
    v.push((
        "planetscale-password",
        format!("pscale: pscale_pw_{}\n", r.pick(AN, 43)),
    ));
    v.push((
        "planetscale-api-token",
        format!("pscale: pscale_tkn_{}\n", r.pick(AN, 43)),
    ));
    v.push((
        "private-packagist-token",
        format!("packagist: packagist_out_{}\n", r.pick(HEX, 68)),
    ));
    v.push((
        "postman-api-token",
        format!("postman: PMAK-{}-{}\n", r.pick(HEX, 24), r.pick(HEX, 34)),
    ));
    v.push((
        "pulumi-api-token",
        format!("pulumi: pul-{}\n", r.pick(HEX, 40)),
    ));
    v.push((
        "rubygems-api-token",
        format!("rubygems: rubygems_{}\n", r.pick(HEX, 48)),
    ));
    v.push((
        "sendgrid-api-token",
        format!("sendgrid: SG.{}.{}\n", r.pick(AN, 22), r.pick(AN, 43)),
    ));
    v.push((
        "sendinblue-api-token",
        format!(
            "sendinblue: xkeysib-{}-{}\n",
            r.pick(HEX, 64),
            r.pick(AN, 16)
        ),
    ));
    v.push((
        "shippo-api-token",
        format!("shippo: shippo_live_{}\n", r.pick(HEX, 40)),
    ));
    let s = r.pick(LOW, 16);
    v.push((
        "linkedin-client-secret",
        vendor(&mut r, "linkedin_client", s),
    ));
    let s = format!("{}7", r.pick(LOW, 13));
    v.push(("linkedin-client-id", vendor(&mut r, "linkedin_id", s)));
    let s = r.pick(AN, 30);
    v.push(("twitch-api-token", vendor(&mut r, "twitch_api", s)));
    v.push((
        "typeform-api-token",
        format!("typeform_api = tfp_{}\n", r.pick(AN, 59)),
    ));
    let user_pw = format!("deploy:{}", r.pick(AN, 20));
    let cfg = format!(
        "{{\"auths\":{{\"registry.invalid\":{{\"auth\":\"{}\"}}}}}}",
        b64(user_pw.as_bytes())
    );
    v.push((
        "dockerconfig-secret",
        format!(
            "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
            b64(cfg.as_bytes())
        ),
    ));
    v.push(("docker-config-auth", format!("{cfg}\n")));
    v
}

/// A gzip tar layer of `(path, content)` entries (a `None` content is an empty whiteout file).
fn layer(entries: &[(String, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = BTreeSet::new();
    for (path, _) in entries {
        let mut d = Path::new(path).parent();
        while let Some(p) = d.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_string_lossy().into_owned());
            d = p.parent();
        }
    }
    for d in &dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .unwrap();
    }
    for (path, data) in entries {
        let data = data.unwrap_or_default().as_bytes();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

/// Writes an OCI layout at `dir` whose image has `layers` (gzip tars); returns their diff ids.
fn write_layout(dir: &Path, layers: &[Vec<u8>]) -> Vec<String> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(blobs.join(&d), bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    let mut diff_ids = Vec::new();
    let mut descs = Vec::new();
    for l in layers {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(l.as_slice()), &mut raw)
            .unwrap();
        diff_ids.push(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(&raw))
        ));
        let (digest, size) = put(l);
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}));
    }
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| json!({"created_by": "COPY . /"})).collect::<Vec<_>>(),
    });
    let (cd, cs) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs,
    });
    let (md, ms) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    diff_ids
}

/// A secret as a scanner places it: the path, the kind (rule id), the layer (0 = bottom).
type Placed = (String, String, usize);

/// Every secret trivy finds in the layout, offline; `diff_ids` number its layers.
fn trivy_secrets(
    trivy: &Path,
    layout: &Path,
    work: &Path,
    diff_ids: &[String],
) -> BTreeSet<Placed> {
    let cache = work.join("trivy-cache");
    let out = std::process::Command::new("unshare")
        .arg("-n")
        .arg(trivy)
        .args(["image", "--input"])
        .arg(layout)
        .args([
            "--scanners",
            "secret",
            "--offline-scan",
            "--skip-db-update",
            "--skip-java-db-update",
            "--skip-version-check",
            "--disable-telemetry",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(&cache)
        .env("XDG_CACHE_HOME", work.join("xdg"))
        .output()
        .expect("run trivy");
    assert!(
        out.status.success(),
        "trivy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("trivy JSON");
    if std::env::var_os("SHOW_TRIVY").is_some() {
        println!(
            "{}",
            serde_json::to_string_pretty(&v["Results"][0]).unwrap()
        );
    }
    let mut found = BTreeSet::new();
    for r in v["Results"].as_array().into_iter().flatten() {
        let target = r["Target"].as_str().unwrap_or_default();
        for s in r["Secrets"].as_array().into_iter().flatten() {
            let path = format!("/{}", target.trim_start_matches('/'));
            let diff_id = s["Layer"]["DiffID"].as_str().unwrap_or_default();
            let layer = diff_ids
                .iter()
                .position(|d| d == diff_id)
                .unwrap_or_else(|| panic!("trivy names an unknown layer {diff_id} for {path}"));
            let kind = s["RuleID"].as_str().unwrap_or_default().to_string();
            found.insert((path, kind, layer));
        }
    }
    found
}

/// `(path, kind)` of every secret `whittle audit` reports in a file (kept or hidden); of every
/// image, when `image` is an archive of several.
fn whittle_secrets(image: &str) -> BTreeSet<Placed> {
    let out = whittle()
        .args(["audit", "--format", "json", image])
        .output()
        .expect("run whittle");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.stdout.is_empty()
        && let Some((_, names)) = stderr.split_once("choose one of: ")
    {
        return names
            .trim()
            .split(", ")
            .flat_map(|name| whittle_secrets(&format!("{image}:{name}")))
            .collect();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "whittle audit JSON: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut found = BTreeSet::new();
    for f in v["findings"].as_array().into_iter().flatten() {
        if !matches!(f["rule"].as_str(), Some("secret-in-file" | "hidden-secret")) {
            continue;
        }
        let path = f["location"]["path"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let layer = f["location"]["layer"].as_u64().expect("a layer") as usize;
        // `KIND at line N: …; also KIND, KIND`
        let ev = f["evidence"].as_str().unwrap_or_default();
        let mut kinds: Vec<&str> = ev.split(' ').take(1).collect();
        if let Some((_, also)) = ev.split_once("; also ") {
            kinds.extend(also.split(", "));
        }
        for k in kinds {
            found.insert((path.clone(), k.to_string(), layer));
        }
    }
    found
}

#[test]
fn whittle_finds_every_kind_trivy_finds_in_every_layer() {
    let corpus = corpus();
    let tmp = tempfile::tempdir().unwrap();
    // layer 1: a third of the secrets stay, a third is deleted later, a third sits in a
    // directory a later layer makes opaque; layer 2: the whiteouts and the opaque directory;
    // layer 3: the rest
    let mut l1 = Vec::new();
    let mut l2 = vec![
        ("srv/hidden/.wh..wh..opq".to_string(), None),
        ("srv/hidden/readme.txt".to_string(), Some("nothing here\n")),
    ];
    let mut l3 = Vec::new();
    let mut expected: BTreeMap<String, (&str, usize)> = BTreeMap::new();
    for (i, (kind, text)) in corpus.iter().enumerate() {
        let name = format!("{kind}.conf");
        let (path, layer) = match i % 4 {
            0 => {
                l1.push((format!("srv/kept/{name}"), Some(text.as_str())));
                (format!("/srv/kept/{name}"), 0)
            }
            1 => {
                l1.push((format!("srv/gone/{name}"), Some(text.as_str())));
                l2.push((format!("srv/gone/.wh.{name}"), None));
                (format!("/srv/gone/{name}"), 0)
            }
            2 => {
                l1.push((format!("srv/hidden/{name}"), Some(text.as_str())));
                (format!("/srv/hidden/{name}"), 0)
            }
            _ => {
                l3.push((format!("etc/app/{name}"), Some(text.as_str())));
                (format!("/etc/app/{name}"), 2)
            }
        };
        expected.insert(path, (*kind, layer));
    }
    let layout = tmp.path().join("layout");
    let diff_ids = write_layout(&layout, &[layer(&l1), layer(&l2), layer(&l3)]);
    let image = format!("oci:{}", layout.display());

    // whittle finds every planted kind, in whichever layer it is stored
    let ours = whittle_secrets(&image);
    let missing: Vec<_> = expected
        .iter()
        .filter(|(p, (k, l))| !ours.contains(&((*p).clone(), k.to_string(), *l)))
        .collect();
    assert!(
        missing.is_empty(),
        "whittle misses {} of {} planted secrets: {missing:#?}\nwhittle found: {ours:#?}",
        missing.len(),
        expected.len()
    );

    let Some(trivy) = whittle_testutil::peers::peer("trivy") else {
        return;
    };
    let theirs = trivy_secrets(&trivy, &layout, tmp.path(), &diff_ids);
    let kinds: BTreeSet<&str> = theirs.iter().map(|(_, k, _)| k.as_str()).collect();
    let unseen: Vec<&str> = expected
        .values()
        .map(|(k, _)| *k)
        .filter(|k| !kinds.contains(k))
        .collect();
    // the corpus exercises every kind trivy has; only whittle's own kind goes unseen by it
    assert_eq!(
        unseen,
        ["docker-config-auth"],
        "trivy misses planted secrets"
    );
    println!(
        "trivy found {} secrets of {} kinds",
        theirs.len(),
        kinds.len()
    );
    assert!(
        kinds.len() >= 40,
        "trivy found only {} kinds: {theirs:#?}",
        kinds.len()
    );
    // trivy reads the lower layers too: deleted and hidden files are in its findings
    for dir in ["/srv/gone/", "/srv/hidden/"] {
        assert!(
            theirs.iter().any(|(p, _, _)| p.starts_with(dir)),
            "trivy reports nothing under {dir}"
        );
    }
    let not_ours: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        not_ours.is_empty(),
        "trivy finds what whittle does not: {not_ours:#?}"
    );
    // trivy has no rule for config.json `auth` entries; whittle does
    let auth = expected
        .iter()
        .find(|(_, (k, _))| *k == "docker-config-auth")
        .map(|(p, _)| p.clone())
        .unwrap();
    assert!(!theirs.iter().any(|(p, _, _)| *p == auth));
}

/// No secret in the fixture images' real files: their distribution files give no finding.
#[test]
fn fixture_images_have_no_secrets() {
    let Some(fx) = fixtures() else { return };
    let images = fx.join("images");
    let mut seen = 0;
    for (kind, dir) in [
        ("docker-archive", "docker-archive"),
        ("oci-archive", "oci-archive"),
    ] {
        for e in std::fs::read_dir(images.join(dir)).unwrap().flatten() {
            let p = e.path();
            let name = p.to_string_lossy().into_owned();
            if !(name.ends_with(".tar") || name.ends_with(".tar.gz")) {
                continue;
            }
            let found = whittle_secrets(&format!("{kind}:{name}"));
            assert!(found.is_empty(), "{name}: {found:#?}");
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} fixture images read");
}

/// No secret in a built Debian image's distribution files: the catalogue's python3 image (the
/// interpreter and its standard library: code full of `token`, `password` and `secret`) and its
/// debug variant (busybox), from the host's Debian mirror with the shared package cache.
#[test]
fn built_debian_images_have_no_secrets() {
    if !whittle_testutil::mirror() {
        return;
    }
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images");
    let tmp = tempfile::tempdir().unwrap();
    for (release, name) in [("debian12", "python3-debug"), ("debian13", "python3")] {
        let layout = tmp.path().join(format!("{release}-{name}"));
        run(whittle()
            .args(["build", "-q", "--no-sbom", "--cache-dir"])
            .arg(mirror_cache())
            .arg(images.join(release).join(format!("{name}.yaml")))
            .arg("-o")
            .arg(format!("oci:{}:t", layout.display())));
        let found = whittle_secrets(&format!("oci:{}:t", layout.display()));
        assert!(found.is_empty(), "{release}/{name}: {found:#?}");
    }
}
