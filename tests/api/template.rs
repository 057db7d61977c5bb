//! The deployment as written. `template.yaml` is rendered to the plain CloudFormation that
//! `sam deploy` would create, by AWS's own SAM translator (`scripts/render-template.py`), and
//! checked against the code: the binaries it deploys, the variables it sets, the alarms it
//! raises. `Cargo.toml`'s cargo-lambda metadata is read by cargo-lambda itself. Both tools are
//! installed into `.venv` by `scripts/test.sh`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use graphgate::config::Settings;
use graphgate::metrics::Metric;
use graphgate::telemetry::LOG_FILTER_VAR;
use serde_json::Value;

use crate::helpers::*;

const STACK: &str = "graphgate-test";

/// The repository, where the template, the docs and the scripts are.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A tool `scripts/test.sh` installs into `.venv`.
fn venv_tool(name: &str) -> PathBuf {
    let path = repo().join(".venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, which installs it",
        path.display()
    );
    path
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `template.yaml` as CloudFormation, rendered once per test run.
pub fn rendered() -> &'static Value {
    static RENDERED: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    RENDERED.get_or_init(|| {
        let json = run(Command::new(venv_tool("python"))
            .arg(repo().join("scripts/render-template.py"))
            .arg(repo().join("template.yaml")));
        serde_json::from_str(&json).unwrap()
    })
}

/// The template's resources of `kind`, by logical ID.
pub fn resources(kind: &str) -> BTreeMap<&'static str, &'static Value> {
    rendered()["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// Each function's logical ID, by the binary it runs.
pub fn functions() -> BTreeMap<String, &'static str> {
    resources("AWS::Lambda::Function")
        .into_iter()
        .map(|(id, f)| {
            let binary = f["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} names no Binary"));
            (binary.to_owned(), id)
        })
        .collect()
}

/// Both HTTP clients (the AWS SDK's and reqwest) and the JWT signer use one TLS crypto
/// provider, aws-lc-rs: `ring` is in Cargo.lock only for targets graphgate is not built for.
#[test]
fn one_tls_crypto_provider_is_linked() {
    let dependents = |package: &str| {
        run(Command::new(env!("CARGO"))
            .args([
                "tree",
                "--edges",
                "normal",
                "--invert",
                package,
                "--offline",
            ])
            .current_dir(repo()))
    };
    assert!(dependents("aws-lc-rs").contains("graphgate"));
    assert_eq!(dependents("ring").trim(), "", "ring is linked too");
}

#[test]
fn each_function_runs_a_binary_this_package_builds() {
    let metadata: Value = serde_json::from_str(&run(Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo())))
    .unwrap();
    let binaries: BTreeSet<&str> = metadata["packages"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == serde_json::json!(["bin"]))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let deployed: BTreeSet<String> = functions().into_keys().collect();
    assert_eq!(
        deployed,
        BTreeSet::from(["intake".into(), "sweeper".into()])
    );
    for binary in &deployed {
        assert!(
            binaries.contains(binary.as_str()),
            "{binary} is not a binary target"
        );
    }
    for (_, function) in resources("AWS::Lambda::Function") {
        assert_eq!(function["Properties"]["Handler"], "bootstrap");
        assert_eq!(function["Properties"]["Runtime"], "provided.al2023");
    }
}

/// Evaluates the template's intrinsic functions for one deployment: `params` over the
/// parameters' defaults, `ChangesTable` as `table`.
struct Deployment<'a> {
    params: HashMap<String, String>,
    table: &'a str,
}

impl<'a> Deployment<'a> {
    fn new(overrides: &[(&str, String)], table: &'a str) -> Self {
        let mut params: HashMap<String, String> = rendered()["Parameters"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(name, p)| {
                let default = match &p["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((name.clone(), default))
            })
            .collect();
        params.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.clone())));
        params.insert("AWS::StackName".into(), STACK.into());
        Deployment { params, table }
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&rendered()["Conditions"][name])
    }

    fn truth(&self, v: &Value) -> bool {
        if let Some(name) = v.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        if let Some(args) = v.get("Fn::Not") {
            return !self.truth(&args[0]);
        }
        if let Some(args) = v.get("Fn::Equals") {
            return self.value(&args[0]) == self.value(&args[1]);
        }
        panic!("no condition evaluator for {v}")
    }

    /// A value as deployed; `None` for `AWS::NoValue`.
    fn value(&self, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Object(o) => {
                if let Some(name) = o.get("Ref").and_then(Value::as_str) {
                    return match name {
                        "AWS::NoValue" => None,
                        "ChangesTable" => Some(self.table.to_owned()),
                        _ => Some(
                            self.params
                                .get(name)
                                .unwrap_or_else(|| panic!("parameter {name} has no value"))
                                .clone(),
                        ),
                    };
                }
                if let Some(args) = o.get("Fn::If") {
                    let branch = if self.condition(args[0].as_str().unwrap()) {
                        &args[1]
                    } else {
                        &args[2]
                    };
                    return self.value(branch);
                }
                if let Some(text) = o.get("Fn::Sub").and_then(Value::as_str) {
                    let mut out = text.to_owned();
                    for (name, value) in &self.params {
                        out = out.replace(&format!("${{{name}}}"), value);
                    }
                    assert!(!out.contains("${"), "unresolved: {text}");
                    return Some(out);
                }
                panic!("no evaluator for {v}")
            }
            _ => panic!("unexpected value {v}"),
        }
    }

    /// The environment `function` gets.
    fn environment(&self, function: &str) -> BTreeMap<String, String> {
        let resource = resources("AWS::Lambda::Function")[function];
        resource["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(name, v)| Some((name.clone(), self.value(v)?)))
            .collect()
    }
}

/// Loads graphgate's settings from exactly `env`, and answers the variables it asked for.
async fn settings_read(env: &BTreeMap<String, String>) -> (Result<Settings, String>, Vec<String>) {
    let asked = Mutex::new(Vec::new());
    let settings = Settings::load_from(
        &|name: &str| {
            asked.lock().unwrap().push(name.to_owned());
            env.get(name).cloned()
        },
        Arc::new(graphgate::clock::SystemClock),
    )
    .await
    .map_err(|e| e.to_string());
    (settings, asked.into_inner().unwrap())
}

/// Deployed with either Graph credential, each function's environment is one graphgate
/// starts from, and every variable in it is one graphgate reads.
#[tokio::test]
async fn each_function_gets_every_variable_it_needs_and_only_ones_it_reads() {
    let table = fresh_table(&dynamo_client().await).await;
    let secret = crate::secrets::new_secret(CLIENT_SECRET).await;
    let certificate = crate::secrets::new_secret(
        &std::fs::read_to_string(repo().join("tests/fixtures/graph-client-cert.pem")).unwrap(),
    )
    .await;
    let callers = crate::secrets::new_secret(&callers_json()).await;
    let required = [
        ("GraphTenantId", "contoso.onmicrosoft.com".to_owned()),
        (
            "GraphClientId",
            "00000000-0000-0000-0000-0000000000aa".to_owned(),
        ),
        ("CallersSecretArn", callers),
    ];
    for credential in [
        ("GraphClientSecretArn", secret.clone()),
        ("GraphClientCertificateArn", certificate.clone()),
    ] {
        let mut params = required.to_vec();
        params.push(credential.clone());
        let deployment = Deployment::new(&params, &table);
        for function in functions().into_values() {
            let env = deployment.environment(function);
            let (settings, asked) = settings_read(&env).await;
            let settings = settings.unwrap_or_else(|e| panic!("{function}: {e}"));
            assert_eq!(settings.metrics_namespace, format!("graphgate/{STACK}"));
            for name in env.keys() {
                assert!(
                    asked.contains(name) || name == LOG_FILTER_VAR,
                    "{function} sets {name}, which graphgate never reads"
                );
            }
            // Without any one of them, graphgate would not start, or would run on
            // something else than the stack made (SQLite, the default cloud).
            for name in [
                "GRAPH_TENANT_ID",
                "GRAPH_CLIENT_ID",
                "GRAPHGATE_CALLERS_SECRET_ARN",
            ] {
                let mut without = env.clone();
                without.remove(name);
                assert!(settings_read(&without).await.0.is_err(), "{name}");
            }
            let credential_var = match credential.0 {
                "GraphClientSecretArn" => "GRAPH_CLIENT_SECRET_ARN",
                _ => "GRAPH_CLIENT_CERTIFICATE_ARN",
            };
            assert_eq!(env[credential_var], credential.1);
            assert_eq!(env["GRAPHGATE_TABLE"], table);
        }
    }
}

/// Each function's own statements name only the table, its due index and the two secrets,
/// action by action; SAM's basic execution role (its logs) is the only managed policy.
#[test]
fn policies_reach_only_the_table_its_index_and_the_named_secrets() {
    let table = serde_json::json!({"Fn::GetAtt": ["ChangesTable", "Arn"]});
    let index = serde_json::json!({"Fn::Sub": "${ChangesTable.Arn}/index/due-index"});
    let credential = serde_json::json!({"Fn::If": ["UseCertificate", {"Ref": "GraphClientCertificateArn"}, {"Ref": "GraphClientSecretArn"}]});
    let callers = serde_json::json!({"Ref": "CallersSecretArn"});
    for (binary, grants) in granted() {
        for (resource, actions) in grants {
            let resource: Value = serde_json::from_str(&resource).unwrap();
            if resource == table || resource == index {
                assert!(
                    actions.iter().all(|a| a.starts_with("dynamodb:")),
                    "{binary}: {actions:?}"
                );
            } else if resource == credential || resource == callers {
                assert_eq!(
                    actions,
                    BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()])
                );
            } else {
                panic!("{binary} may act on {resource}");
            }
        }
    }
    for (_, role) in resources("AWS::IAM::Role") {
        let managed = &role["Properties"]["ManagedPolicyArns"];
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
            == serde_json::json!(["lambda.amazonaws.com"])
        {
            assert_eq!(
                managed,
                &serde_json::json!([
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                ])
            );
        }
    }
}

/// What each function's role allows: actions by resource (as JSON), from its inline
/// statements. No statement may use a wildcard or deny.
pub fn granted() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let as_list = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        }
    };
    functions()
        .into_iter()
        .map(|(binary, id)| {
            let function = resources("AWS::Lambda::Function")[id];
            let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap();
            let role = resources("AWS::IAM::Role")[role_id];
            let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for policy in role["Properties"]["Policies"].as_array().unwrap() {
                for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                    assert_eq!(statement["Effect"], "Allow");
                    let actions: Vec<String> = as_list(&statement["Action"])
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect();
                    for resource in as_list(&statement["Resource"]) {
                        assert!(!resource.to_string().contains('*'), "{binary}: {resource}");
                        for action in &actions {
                            assert!(!action.contains('*'), "{binary}: {action}");
                            grants
                                .entry(resource.to_string())
                                .or_default()
                                .insert(action.clone());
                        }
                    }
                }
            }
            (binary, grants)
        })
        .collect()
}

/// Every alarm watches a metric graphgate writes, in the namespace the functions are given,
/// or a function's own Lambda errors.
#[test]
fn every_alarm_watches_a_metric_the_code_writes() {
    let ours = serde_json::json!({"Fn::Sub": "graphgate/${AWS::StackName}"});
    let namespaces: BTreeSet<String> = resources("AWS::Lambda::Function")
        .values()
        .map(|f| {
            f["Properties"]["Environment"]["Variables"]["GRAPHGATE_METRICS_NAMESPACE"].to_string()
        })
        .collect();
    assert_eq!(namespaces, BTreeSet::from([ours.to_string()]));
    let written: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    let function_ids: BTreeSet<&str> = functions().into_values().collect();
    let alarms = resources("AWS::CloudWatch::Alarm");
    let mut watched = BTreeSet::new();
    for (id, alarm) in &alarms {
        let p = &alarm["Properties"];
        let stats: Vec<&Value> = match p["Metrics"].as_array() {
            Some(queries) => queries
                .iter()
                .filter_map(|q| q.get("MetricStat").map(|s| &s["Metric"]))
                .collect(),
            None => vec![p],
        };
        assert!(!stats.is_empty(), "{id}");
        for metric in stats {
            let name = metric["MetricName"].as_str().unwrap();
            if metric["Namespace"] == "AWS/Lambda" {
                assert_eq!(name, "Errors", "{id}");
                let target = metric["Dimensions"][0]["Value"]["Ref"].as_str().unwrap();
                assert!(function_ids.contains(target), "{id} watches {target}");
                watched.insert(format!("Errors of {target}"));
            } else {
                assert_eq!(metric["Namespace"], ours, "{id}");
                // The alarms watch each metric's total: the series written with no
                // dimension (see metrics::document).
                assert!(metric.get("Dimensions").is_none(), "{id}");
                assert!(
                    written.contains(name),
                    "{id} watches {name}, which nothing writes"
                );
                watched.insert(name.to_owned());
            }
        }
        // Each alarm can notify the optional topic, when it goes off and when it clears.
        let topic = serde_json::json!({"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]});
        assert_eq!(p["AlarmActions"], topic, "{id}");
        assert_eq!(p["OKActions"], topic, "{id}");
    }
    for wanted in [
        "Errors of IntakeFunction",
        "Errors of SweeperFunction",
        "ChangesFailed",
        "SweepBacklogAge",
        "GraphThrottles",
        "CallbacksFailed",
    ] {
        assert!(
            watched.contains(wanted),
            "no alarm on {wanted}: {watched:?}"
        );
    }
}

/// `cargo lambda deploy intake` and `… sweeper` would deploy each binary with the memory and
/// timeout the template gives it. Checked with cargo-lambda's dry run, which reads
/// Cargo.toml's metadata and the built binary, and calls no AWS service.
#[test]
fn cargo_lambda_deploys_each_binary_as_the_template_does() {
    let dir = tempfile::tempdir().unwrap();
    for (binary, id, built) in [
        ("intake", "IntakeFunction", env!("CARGO_BIN_EXE_intake")),
        ("sweeper", "SweeperFunction", env!("CARGO_BIN_EXE_sweeper")),
    ] {
        assert_eq!(functions()[binary], id);
        std::fs::create_dir_all(dir.path().join(binary)).unwrap();
        std::fs::copy(built, dir.path().join(binary).join("bootstrap")).unwrap();
        let out = run(Command::new(venv_tool("cargo-lambda"))
            .args([
                "lambda",
                "deploy",
                "--dry",
                "--output-format",
                "json",
                "--lambda-dir",
            ])
            .arg(dir.path())
            .arg(binary)
            .current_dir(repo())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true"));
        // A progress line comes first.
        let plan: Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
        let template = &resources("AWS::Lambda::Function")[id]["Properties"];
        let config = &plan["config"];
        assert_eq!(plan["name"], binary);
        assert_eq!(config["memory"], template["MemorySize"], "{binary}");
        assert_eq!(config["timeout"], template["Timeout"], "{binary}");
        assert_eq!(config["runtime"], template["Runtime"], "{binary}");
        assert_eq!(config["env_file"], ".env.lambda", "{binary}");
    }
}

/// `lambda.env.example`, the environment `cargo lambda deploy` gives both functions, names
/// the same variables as the template, credential choice aside.
#[test]
fn the_cargo_lambda_environment_example_matches_the_template() {
    let example = std::fs::read_to_string(repo().join("lambda.env.example")).unwrap();
    let named: BTreeSet<String> = example
        .lines()
        .map(|l| l.trim_start_matches("# ").trim())
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.to_owned()))
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    for function in functions().into_values() {
        let set: BTreeSet<String> =
            resources("AWS::Lambda::Function")[function]["Properties"]["Environment"]["Variables"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert_eq!(named, set, "{function}");
    }
}
