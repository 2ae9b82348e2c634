//! `bootstrap`: the trailguard Lambda function (runtime `provided.al2023`).
//!
//! Init reads the environment once (rules, sinks, secrets named by ARN), then the
//! Runtime API loop hands each invocation to [`App::handle`]. An init that fails
//! (a bad variable, an unusable sink) is reported to the Runtime API's `/init/error`
//! with the reason, never a secret, and the process exits: Lambda shows the reason
//! and retries the init on the next invocation.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use trailguard_lambda::config::{Env, LambdaConfig};
use trailguard_lambda::handler::App;
use trailguard_lambda::{log, object_source, secrets, state_store};

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    // Without the Runtime API there is nothing to serve (and the runtime client would
    // panic on the missing variables): say so plainly.
    for var in [
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
    ] {
        if std::env::var_os(var).is_none() {
            log::error(&format!(
                "{var} is not set: bootstrap runs inside AWS Lambda (or `cargo lambda watch`, \
                 or a local Runtime API such as the one in crates/trailguard-lambda/tests)"
            ));
            return ExitCode::FAILURE;
        }
    }
    // Events are read one at a time: one rayon worker is all the collector needs, and
    // no pool sized to the host's cores is started in a 128 MB function.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let app = match init(started).await {
            Ok(app) => app,
            Err((kind, message)) => {
                log::error(&format!("init failed: {message}"));
                report_init_error(kind, &message);
                return ExitCode::FAILURE;
            }
        };
        // The app lives as long as the process; handlers borrow it.
        let app: &'static App = Box::leak(Box::new(app));
        let handler = service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
            app.handle(event.payload.get()).await
        });
        match lambda_runtime::run(handler).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log::error(&format!("runtime loop ended: {e}"));
                ExitCode::FAILURE
            }
        }
    })
}

/// Builds the app, or says why not: (Lambda `errorType`, message).
async fn init(started: std::time::Instant) -> Result<App, (&'static str, String)> {
    let mut env: Env = std::env::vars().collect::<BTreeMap<_, _>>();
    let source = match secrets::default_secret_source(&env) {
        Ok(s) => s,
        Err(e) => {
            log::error(&e);
            None
        }
    };
    secrets::resolve_secret_arns(&mut env, source.as_deref())
        .await
        .map_err(|e| ("trailguard.SecretError", e.to_string()))?;
    let config =
        LambdaConfig::from_env(&env).map_err(|e| ("trailguard.ConfigError", e.to_string()))?;
    drop(env);
    for w in &config.warnings {
        log::warn(w);
    }
    let objects = object_source(&config).map_err(|e| ("trailguard.AwsError", e.to_string()))?;
    let state = state_store(&config).map_err(|e| ("trailguard.AwsError", e.to_string()))?;
    if config.state_table.is_none() {
        log::warn(
            "TRAILGUARD_STATE_TABLE is not set: stateful rules and delivery claims keep their \
             state in this execution environment only (lost when it is recycled, not shared \
             with concurrent ones)",
        );
    }
    let app = App::new(config, Some(objects), state)
        .map_err(|e| ("trailguard.SinkError", e.to_string()))?;
    let c = app.config();
    log::info(&format!(
        "ready in {} ms: {} rules, min severity {}, sinks [{}], objects from {}, state in {}",
        started.elapsed().as_millis(),
        c.rules.len(),
        c.min_severity,
        c.routing
            .sinks
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        match &c.local_objects {
            Some(dir) => format!("local folder {}", dir.display()),
            None => "S3".into(),
        },
        match &c.state_table {
            Some(t) => format!("DynamoDB table {t}"),
            None => "memory".into(),
        }
    ));
    Ok(app)
}

/// POSTs the init failure to `/2018-06-01/runtime/init/error`. Plain HTTP/1.1 on the
/// loopback Runtime API: the runtime client is only built once init succeeded.
fn report_init_error(kind: &str, message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({"errorMessage": message, "errorType": kind}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {kind}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent = TcpStream::connect(&api).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        Ok(())
    });
    if let Err(e) = sent {
        log::error(&format!(
            "cannot report the init error to the Runtime API: {e}"
        ));
    }
}
