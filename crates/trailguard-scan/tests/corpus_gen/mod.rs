//! Generates the labelled corpus: for each round, one file per template with a planted
//! key (and usually its secret), plus files of lookalikes. Deterministic for a seed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use trailguard_scan::Confidence;

pub struct Planted {
    pub path: PathBuf,
    pub key: String,
    /// 1-based, column in characters.
    pub line: usize,
    pub column: usize,
    pub paired: bool,
    /// When not paired.
    pub confidence: Confidence,
}

pub struct Corpus {
    pub planted: Vec<Planted>,
    pub lookalikes: usize,
}

/// xorshift64*: enough randomness for a corpus, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
    pub fn base32(&mut self, n: usize) -> String {
        self.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n)
    }
    pub fn base64(&mut self, n: usize) -> String {
        self.pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            n,
        )
    }
    pub fn hex(&mut self, n: usize) -> String {
        self.pick(b"0123456789abcdef", n)
    }
    pub fn key(&mut self, prefix: &str) -> String {
        loop {
            let k = format!("{prefix}{}", self.base32(16));
            if !k.ends_with("EXAMPLE") {
                return k;
            }
        }
    }
}

/// (relative path, content, key, paired, confidence when alone) of each template.
fn templates(r: &mut Rng, round: usize) -> Vec<(String, String, String, bool, Confidence)> {
    let k = |r: &mut Rng| {
        let prefix = ["AKIA", "ASIA", "ABIA", "ACCA"][(r.next() % 4) as usize];
        r.key(prefix)
    };
    let mut t = Vec::new();
    let d = format!("r{round}");
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/.aws/credentials"),
        format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = {s}\nregion = eu-west-1\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/.aws/config"),
        format!("[profile dev]\nregion = us-east-1\noutput = json\naws_access_key_id={key}\naws_secret_access_key={s}\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s, tok) = (r.key("ASIA"), r.base64(40), r.base64(356));
    t.push((
        format!("{d}/.env"),
        format!("DEBUG=1\nDATABASE_URL=postgres://db/app\nAWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={s}\nAWS_SESSION_TOKEN={tok}\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/terraform.tfvars"),
        format!("region     = \"us-east-1\"\naccess_key = \"{key}\"\nsecret_key = \"{s}\"\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/infra/main.tf"),
        format!("provider \"aws\" {{\n  region     = \"us-east-1\"\n  access_key = \"{key}\"\n  secret_key = \"{s}\"\n}}\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/.github/workflows/deploy.yml"),
        format!("name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: {key}\n      AWS_SECRET_ACCESS_KEY: {s}\n    steps:\n      - run: aws s3 sync . s3://bucket\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/analysis.ipynb"),
        format!("{{\n \"cells\": [\n  {{\n   \"cell_type\": \"code\",\n   \"source\": [\n    \"import boto3\\n\",\n    \"s = boto3.Session(aws_access_key_id='{key}', aws_secret_access_key='{s}')\\n\",\n    \"s.client('s3').list_buckets()\"\n   ]\n  }}\n ],\n \"nbformat\": 4\n}}\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/home/.bash_history"),
        format!("ls -la\ncd project\nexport AWS_ACCESS_KEY_ID={key}\nexport AWS_SECRET_ACCESS_KEY={s}\naws sts get-caller-identity\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/app/upload.py"),
        format!("import boto3\n\n\ndef client():\n    return boto3.client(\n        \"s3\",\n        aws_access_key_id=\"{key}\",\n        aws_secret_access_key=\"{s}\",\n    )\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    let filler = "var a=function(b){return b+1},c=[1,2,3].map(a);".repeat(200 + round);
    t.push((
        format!("{d}/static/app.min.js"),
        format!("{filler}const cfg={{region:\"us-east-1\",credentials:{{accessKeyId:\"{key}\",secretAccessKey:\"{s}\"}}}};{filler}"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/create-access-key.json"),
        format!("{{\n    \"AccessKey\": {{\n        \"UserName\": \"ci\",\n        \"AccessKeyId\": \"{key}\",\n        \"Status\": \"Active\",\n        \"SecretAccessKey\": \"{s}\",\n        \"CreateDate\": \"2025-09-17T20:00:00Z\"\n    }}\n}}\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/home/.zsh_history"),
        format!(": 1700000000:0;aws configure set aws_access_key_id {key}\n: 1700000005:0;aws configure set aws_secret_access_key {s}\n"),
        key,
        true,
        Confidence::High,
    ));
    let (key, s) = (k(r), r.base64(40));
    t.push((
        format!("{d}/src/main/java/S3Client.java"),
        format!("class S3Client {{\n    AmazonS3 s3() {{\n        var c = new BasicAWSCredentials(\"{key}\", \"{s}\");\n        return AmazonS3ClientBuilder.standard().build();\n    }}\n}}\n"),
        key,
        true,
        Confidence::High,
    ));
    let key = k(r);
    t.push((
        format!("{d}/NOTES.md"),
        format!("# Incident\n\nThe key {key} was rotated on Monday.\n"),
        key,
        false,
        Confidence::Low,
    ));
    let key = k(r);
    t.push((
        format!("{d}/deploy/.env.production"),
        format!("REGION=eu-west-1\nKEY={key}\n"),
        key,
        false,
        Confidence::Medium,
    ));
    t
}

/// Lines that look like credentials and are not.
fn lookalikes(r: &mut Rng) -> Vec<String> {
    vec![
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".to_owned(),
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        format!("aws_access_key_id = AKIA{}EXAMPLE", r.base32(9)),
        format!("AWS_ACCESS_KEY_ID=ASIA{}EXAMPLE", r.base32(9)),
        format!("\"UserId\": \"AIDA{}\"", r.base32(17)),
        format!("\"RoleId\": \"AROA{}\"", r.base32(17)),
        format!("group AGPA{} policy ANPA{}", r.base32(16), r.base32(16)),
        format!("id = AKIA{}", r.base32(15)),
        format!("id = AKIA{}", r.base32(17)),
        format!("id = AKIA{}", r.base32(28)),
        format!("token {}", r.base32(20)),
        format!("x{}", r.key("AKIA")),
        format!("{}9", r.key("AKIA")),
        format!("id: {}", r.key("akia").to_ascii_lowercase()),
        format!("AKIA{}189Q", r.base32(12)),
        format!("sha1 {}", r.hex(40)),
        format!("sha256: {}", r.hex(64)),
        format!("blob: {}", r.base64(40)),
        format!("data = \"{}\"", r.base64(120)),
        "aws_secret_access_key = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_owned(),
        "aws_secret_access_key = <your secret access key here>".to_owned(),
        "aws_session_token = ${AWS_SESSION_TOKEN}".to_owned(),
    ]
}

fn position(content: &str, needle: &str) -> (usize, usize) {
    let at = content.find(needle).expect("planted");
    let before = &content[..at];
    let line = before.matches('\n').count() + 1;
    let ls = before.rfind('\n').map_or(0, |i| i + 1);
    (line, content[ls..at].chars().count() + 1)
}

/// Writes `rounds` rounds of templates and lookalikes under `root`.
pub fn generate(root: &Path, rounds: usize, seed: u64) -> Corpus {
    let mut r = Rng(seed | 1);
    let mut planted = Vec::new();
    let mut lookalike_count = 0;
    for round in 0..rounds {
        for (path, content, key, paired, confidence) in templates(&mut r, round) {
            let (line, column) = position(&content, &key);
            let full = root.join(&path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(&full, content).unwrap();
            planted.push(Planted {
                path: PathBuf::from(path),
                key,
                line,
                column,
                paired,
                confidence,
            });
        }
        let (key, secret) = (r.key("AKIA"), r.base64(40));
        let creds =
            format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n");
        let gz = root.join(format!("r{round}/backup/credentials.gz"));
        fs::create_dir_all(gz.parent().unwrap()).unwrap();
        let mut e = flate2::write::GzEncoder::new(
            fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        e.write_all(creds.as_bytes()).unwrap();
        e.finish().unwrap();
        planted.push(Planted {
            path: PathBuf::from(format!("r{round}/backup/credentials.gz")),
            key,
            line: 2,
            column: 21,
            paired: true,
            confidence: Confidence::High,
        });
        let (key, secret) = (r.key("ASIA"), r.base64(40));
        let env = format!("# deploy\nAWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n");
        let mut z = zip::ZipWriter::new(
            fs::File::create(root.join(format!("r{round}/backup/site.zip"))).unwrap(),
        );
        z.start_file("site/.env", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(env.as_bytes()).unwrap();
        z.finish().unwrap();
        planted.push(Planted {
            path: PathBuf::from(format!("r{round}/backup/site.zip!site/.env")),
            key,
            line: 2,
            column: 19,
            paired: true,
            confidence: Confidence::High,
        });
        // A release tarball holding a zip holding a `.env`: named all the way down.
        let (key, secret) = (r.key("AKIA"), r.base64(40));
        let env = format!("# prod\nAWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n");
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file(".env", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(env.as_bytes()).unwrap();
        let zip = z.finish().unwrap().into_inner();
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(zip.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, "site/config.zip", &zip[..]).unwrap();
        let tarball = t.into_inner().unwrap();
        let mut e = flate2::write::GzEncoder::new(
            fs::File::create(root.join(format!("r{round}/backup/release.tar.gz"))).unwrap(),
            flate2::Compression::default(),
        );
        e.write_all(&tarball).unwrap();
        e.finish().unwrap();
        planted.push(Planted {
            path: PathBuf::from(format!(
                "r{round}/backup/release.tar.gz!site/config.zip!.env"
            )),
            key,
            line: 2,
            column: 19,
            paired: true,
            confidence: Confidence::High,
        });
        let lines = lookalikes(&mut r);
        lookalike_count += lines.len();
        let d = root.join(format!("r{round}/lookalikes"));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("README.md"), lines.join("\n")).unwrap();
        // In a credentials file too, where a key id alone would be reported.
        fs::write(d.join(".env.example"), lines.join("\n")).unwrap();
        fs::write(
            d.join("settings.json"),
            serde_json::to_string(&lines).unwrap(),
        )
        .unwrap();
        lookalike_count += 2 * lines.len();
    }
    Corpus {
        planted,
        lookalikes: lookalike_count,
    }
}
