//! The demo drives its term-loan book through the HTTP API of a server in the same process,
//! as a lender's systems would: every request is the documented one.

use serde_json::Value;
use uuid::Uuid;

pub struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// A refusal the demo expects now and then (a price above a cap, a funder's quota).
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub detail: String,
}

impl Api {
    pub fn new(base: String, key: String) -> Api {
        Api {
            base,
            key,
            http: reqwest::Client::new(),
        }
    }

    /// POSTs `body` (under `idempotency_key` when given): the answer, a 4xx as `Refused`,
    /// and anything else as an error.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<Uuid>,
    ) -> anyhow::Result<Result<Value, Refused>> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(Ok(v)),
            400..=499 => Ok(Err(Refused {
                status,
                code: v["code"].as_str().unwrap_or("unknown").to_string(),
                detail: v.to_string(),
            })),
            _ => anyhow::bail!("POST {path} answered {status}: {v}"),
        }
    }

    /// As [`Api::post`], where a refusal is an error too (set-up requests).
    pub async fn must(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<Uuid>,
    ) -> anyhow::Result<Value> {
        self.post(path, body, idempotency_key)
            .await?
            .map_err(|r| anyhow::anyhow!("POST {path} refused: {} {}", r.status, r.detail))
    }
}
