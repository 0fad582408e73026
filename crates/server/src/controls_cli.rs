//! `puhui controls halt|lift|read-only|outage|list`: the emergency controls of a running
//! server, through its API (a halt is in force in the serving process's memory, so the
//! commands go where that process is).

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Clone)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "PUHUI_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An operator API key.
    #[arg(long, env = "PUHUI_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ControlsCmd {
    /// Halt new originations and/or purchases in a scope, from the server's answer on.
    Halt {
        #[command(flatten)]
        server: ServerArgs,
        /// everywhere | revolving | product:<loan product id> | merchant:<merchant id> |
        /// funder:<funding partner id>
        #[arg(long)]
        scope: String,
        /// originations, purchases, or both comma-separated; defaults to all the scope covers.
        #[arg(long)]
        operations: Option<String>,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Lift an active halt.
    Lift {
        #[command(flatten)]
        server: ServerArgs,
        /// The halt's id.
        id: uuid::Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Turn the platform's read-only mode on or off.
    ReadOnly {
        #[command(flatten)]
        server: ServerArgs,
        /// on | off
        state: String,
        #[arg(long)]
        reason: String,
    },
    /// Start or end a funding partner's outage.
    Outage {
        #[command(flatten)]
        server: ServerArgs,
        /// The funding partner's id.
        partner_id: uuid::Uuid,
        /// reroute | pause | end
        #[arg(long)]
        action: String,
        #[arg(long)]
        reason: String,
    },
    /// Active halts, the read-only mode and funders in outage.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Lifted halts too.
        #[arg(long)]
        all: bool,
    },
}

/// The JSON scope of `--scope`.
pub fn parse_scope(raw: &str) -> Result<Value, String> {
    let (kind, target) = match raw.split_once(':') {
        Some((k, t)) => (k, Some(t)),
        None => (raw, None),
    };
    let field = match kind {
        "everywhere" | "revolving" if target.is_none() => return Ok(json!({ "kind": kind })),
        "product" => "product_id",
        "merchant" => "merchant_id",
        "funder" => "partner_id",
        _ => {
            return Err(
                "--scope: everywhere, revolving, product:<id>, merchant:<id> or funder:<id>".into(),
            )
        }
    };
    let id = target
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
        .ok_or_else(|| format!("--scope: {kind}:<id> needs a UUID"))?;
    Ok(json!({ "kind": kind, field: id }))
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    pub(crate) fn new(a: &ServerArgs) -> anyhow::Result<Client> {
        let key = a.api_key.clone().filter(|k| !k.is_empty()).ok_or_else(|| {
            anyhow::anyhow!("--api-key (or PUHUI_API_KEY) is required: an operator key")
        })?;
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base: a.server.trim_end_matches('/').to_string(),
            key,
        })
    }

    /// The answer's status and JSON body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.call_keyed(method, path, body, uuid::Uuid::now_v7())
            .await
    }

    /// As `call`, a body sent under `key` (a retry with the same key is answered, not
    /// done again).
    pub(crate) async fn call_keyed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: uuid::Uuid,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.header("Idempotency-Key", key.to_string()).json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }
}

/// Prints a refusal's problem and returns exit code 2.
pub(crate) fn refused(body: &Value) -> ExitCode {
    let detail = body["detail"].as_str().unwrap_or("");
    let code = body["code"].as_str().unwrap_or("error");
    eprintln!("refused ({code}): {detail}");
    ExitCode::from(2)
}

fn halt_line(h: &Value) -> String {
    let scope = &h["scope"];
    let target = ["product_id", "merchant_id", "partner_id"]
        .iter()
        .find_map(|f| scope[f].as_str())
        .map(|t| format!(":{t}"))
        .unwrap_or_default();
    format!(
        "{}  {:<7} {}{}  [{}]  {}",
        h["id"].as_str().unwrap_or(""),
        h["status"].as_str().unwrap_or(""),
        scope["kind"].as_str().unwrap_or(""),
        target,
        h["operations"]
            .as_array()
            .map(|o| o
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","))
            .unwrap_or_default(),
        h["reason"].as_str().unwrap_or("")
    )
}

pub async fn run(cmd: ControlsCmd) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    let (server, method, path, body) = match &cmd {
        ControlsCmd::Halt {
            server,
            scope,
            operations,
            reason,
        } => {
            let scope = match parse_scope(scope) {
                Ok(s) => s,
                Err(m) => return crate::colending_cli::refused(m),
            };
            let mut body = json!({ "scope": scope, "reason": reason });
            if let Some(ops) = operations {
                body["operations"] = json!(ops.split(',').map(str::trim).collect::<Vec<_>>());
            }
            (
                server,
                Method::POST,
                "/v1/controls/halts".to_string(),
                Some(body),
            )
        }
        ControlsCmd::Lift { server, id, reason } => (
            server,
            Method::POST,
            format!("/v1/controls/halts/{id}/lift"),
            Some(json!({ "reason": reason })),
        ),
        ControlsCmd::ReadOnly {
            server,
            state,
            reason,
        } => {
            let on = match state.as_str() {
                "on" => true,
                "off" => false,
                _ => return crate::colending_cli::refused("read-only: on or off"),
            };
            (
                server,
                Method::POST,
                "/v1/controls/read-only".to_string(),
                Some(json!({ "on": on, "reason": reason })),
            )
        }
        ControlsCmd::Outage {
            server,
            partner_id,
            action,
            reason,
        } => (
            server,
            Method::POST,
            "/v1/controls/funder-outages".to_string(),
            Some(json!({ "partner_id": partner_id, "action": action, "reason": reason })),
        ),
        ControlsCmd::List { server, all } => return list(server, *all).await,
    };
    let client = Client::new(server)?;
    let (status, answer) = client.call(method, &path, body).await?;
    if status >= 300 {
        return Ok(refused(&answer));
    }
    if server.json {
        println!("{}", serde_json::to_string(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    match &cmd {
        ControlsCmd::Halt { .. } | ControlsCmd::Lift { .. } => println!("{}", halt_line(&answer)),
        ControlsCmd::ReadOnly { .. } => println!(
            "read-only mode {}",
            if answer["on"] == true { "on" } else { "off" }
        ),
        _ => println!(
            "funding partner {}: {}",
            answer["partner_id"].as_str().unwrap_or(""),
            answer["action"].as_str().unwrap_or("")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(server: &ServerArgs, all: bool) -> anyhow::Result<ExitCode> {
    let client = Client::new(server)?;
    let mut halts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!(
            "/v1/controls/halts?limit=500{}",
            if all { "" } else { "&state=active" }
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = client.call(reqwest::Method::GET, &path, None).await?;
        if status >= 300 {
            return Ok(refused(&page));
        }
        halts.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let (s1, mode) = client
        .call(reqwest::Method::GET, "/v1/controls/read-only", None)
        .await?;
    let (s2, outages) = client
        .call(reqwest::Method::GET, "/v1/controls/funder-outages", None)
        .await?;
    for (s, body) in [(s1, &mode), (s2, &outages)] {
        if s >= 300 {
            return Ok(refused(body));
        }
    }
    if server.json {
        let all = json!({ "halts": halts, "read_only": mode, "funder_outages": outages["items"] });
        println!("{}", serde_json::to_string(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "read-only mode: {}",
        if mode["on"] == true { "ON" } else { "off" }
    );
    println!("halts: {}", halts.len());
    for h in &halts {
        println!("  {}", halt_line(h));
    }
    let outages = outages["items"].as_array().cloned().unwrap_or_default();
    println!("funders in outage: {}", outages.len());
    for o in &outages {
        println!(
            "  {}  {}  {}",
            o["partner_id"].as_str().unwrap_or(""),
            o["action"].as_str().unwrap_or(""),
            o["reason"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_to_the_api_shape_or_name_the_flag() {
        assert_eq!(
            parse_scope("everywhere").unwrap(),
            json!({"kind": "everywhere"})
        );
        let id = uuid::Uuid::nil();
        assert_eq!(
            parse_scope(&format!("merchant:{id}")).unwrap(),
            json!({"kind": "merchant", "merchant_id": id})
        );
        assert!(parse_scope("product:nope").unwrap_err().contains("UUID"));
        assert!(parse_scope("planet").unwrap_err().starts_with("--scope"));
        assert!(parse_scope("everywhere:x").is_err());
    }
}
