//! The HTTP application: state, router, start-up and shutdown.

use crate::auth::{self, KeyCache, Principal, Role};
use crate::decisioning::DecisionService;
pub use crate::listen::ServeConfig;
use crate::problem::ApiError;
use crate::routes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::{Engine, EngineConfig};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use store::{ApiKeyRow, Store};
use tokio::net::TcpListener;

/// What every handler shares. Cloned for each extractor of each request, so it is one
/// reference count (`Engine` alone holds about twenty, and cloning them showed up at
/// about 2 % of the server's time under purchase load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub engine: Engine,
    pub key_cache: KeyCache,
    pub metrics: PrometheusHandle,
    /// The credit decision model and policy loaded at start.
    pub decisions: Arc<DecisionService>,
    /// Close-of-business runs of this process (`POST /v1/close-of-business`, `--cob-at`).
    pub cob: Arc<crate::cob_runs::CobRuns>,
    /// The vault of personal data and the rule packs in force.
    pub customers: crate::customers::CustomerState,
    /// Each role's default requests per second per key.
    pub rate_limits: crate::auth::RoleRates,
    /// The hash-chained log of changes and plaintext reads.
    pub audit: crate::audit::AuditLog,
    /// One customer's exposure checks and the writes they allow, in turn.
    pub exposure_locks: crate::exposure_lock::ExposureLocks,
}

/// Installs the Prometheus recorder once per process.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("install Prometheus recorder")
        })
        .clone()
}

/// Creates the bootstrap operator key on a store that has no keys yet.
pub async fn bootstrap_key(store: &Store, key: Option<&str>) -> anyhow::Result<()> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(());
    };
    anyhow::ensure!(
        key.len() >= 16,
        "PUHUI_BOOTSTRAP_API_KEY must be at least 16 characters"
    );
    if store.api_key_count().await? == 0 {
        store
            .insert_api_key(ApiKeyRow {
                key_hash: auth::hash_key(key),
                role: "operator".into(),
                tenant: "*".into(),
                label: "bootstrap".into(),
                party_kind: None,
                party_id: None,
                expires_at_ms: None,
                revoked_at_ms: None,
                rate_limit_per_s: None,
            })
            .await?;
        tracing::info!("created the bootstrap operator API key");
    }
    Ok(())
}

/// State with the decision model and policy named by `PUHUI_DECISION_MODEL` and
/// `PUHUI_DECISION_POLICY`, or the shipped defaults.
pub async fn build_state(store: Store) -> anyhow::Result<AppState> {
    build_state_with(store, DecisionService::from_env()?).await
}

pub async fn build_state_with(
    store: Store,
    decisions: DecisionService,
) -> anyhow::Result<AppState> {
    build_state_on(store, decisions, Arc::new(engine::SystemClock)).await
}

/// As [`build_state_with`], the engine reading the time from `clock` (tests move a manual
/// one forward instead of waiting).
pub async fn build_state_on(
    store: Store,
    decisions: DecisionService,
    clock: Arc<dyn engine::Clock>,
) -> anyhow::Result<AppState> {
    let audit = crate::audit::AuditLog::start(store.clone());
    let engine = Engine::start_with_clock(store, EngineConfig::default(), clock).await?;
    Ok(AppState(Arc::new(Shared {
        engine,
        key_cache: KeyCache::default(),
        metrics: metrics_handle(),
        decisions: Arc::new(decisions),
        cob: Arc::default(),
        customers: Default::default(),
        rate_limits: Default::default(),
        exposure_locks: Default::default(),
        audit,
    })))
}

pub fn router(state: AppState) -> Router {
    router_with(state, false)
}

/// The router; `fault_injection` adds the routes that panic or stop the ledger writer,
/// which tests use to check that failures are contained.
pub fn router_with(state: AppState, fault_injection: bool) -> Router {
    let mut r = Router::new();
    if fault_injection {
        r = r.merge(crate::faults::routes());
    }
    r.route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(crate::openapi::serve))
        .merge(routes::ledger::routes())
        .merge(routes::keys::routes())
        .merge(routes::apr::routes())
        .merge(routes::loans::routes())
        .merge(routes::colending::routes())
        .merge(routes::decisions::routes())
        .merge(routes::revolving::routes())
        .merge(routes::cob::routes())
        .merge(routes::abs::routes())
        .merge(routes::abs_deals::routes())
        .merge(routes::lists::routes())
        .merge(routes::customers::routes())
        .merge(routes::risk::routes())
        .merge(routes::compliance::routes())
        .merge(routes::events::routes())
        .merge(routes::audit::routes())
        .merge(routes::webhooks::routes())
        .merge(routes::controls::routes())
        // Inside authorization: an unknown key still gets 401, a read-only refusal 503.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            routes::controls::read_only_gate,
        ))
        .merge(routes::analytics::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .route_layer(middleware::from_fn(track))
        .fallback(|| async { crate::problem::not_found("this route") })
        .layer(middleware::from_fn(crate::problem::problems_only))
        // HTML pages behind their own gate and table, outside the JSON problem layer.
        .merge(crate::console::routes(state.clone()))
        .layer(DefaultBodyLimit::max(crate::limits::BODY_BYTES_MAX))
        .layer(middleware::from_fn(crate::faults::catch_panic))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(crate::customers::request_span),
        )
        .with_state(state)
}

/// 200 while the process can serve; 503 once the ledger writer has stopped (the process
/// is then on its way out, so that a supervisor starts a fresh one).
async fn healthz(State(s): State<AppState>) -> Response {
    if s.engine.writer_alive() {
        "ok".into_response()
    } else {
        crate::problem::problem(
            503,
            "writer_stopped",
            "Unavailable",
            "the ledger writer has stopped; this process is exiting",
        )
        .into_response()
    }
}

/// Route and latency figures are for whoever runs the service, not for its customers.
async fn metrics(p: Principal, State(s): State<AppState>) -> Result<String, ApiError> {
    p.require(&[Role::Operator])?;
    Ok(s.metrics.render())
}

/// Request count and latency per route, for Prometheus.
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("puhui_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("puhui_http_request_seconds", "route" => route, "method" => method)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Serves until `shutdown` resolves, with the default limits.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(state, listener, ServeConfig::default(), shutdown).await
}

/// Serves until `shutdown` resolves, with the given timeouts and connection cap.
pub async fn serve_with(
    state: AppState,
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    state
        .rate_limits
        .set(&config.rate_limits)
        .map_err(|e| anyhow::anyhow!(e))?;
    let router = router_with(state.clone(), config.fault_injection);
    let served = crate::listen::run(listener, router, config, shutdown).await;
    // Changes answered before the stop are in the log before the process ends.
    state.audit.flush().await;
    served
}
