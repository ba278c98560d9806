//! Socket.IO namespace `/recommend` (spec §10): administrators launch
//! sandbox runs and every open tab of theirs hears the outcome through the
//! room `user<uuid>`. The token (header `token`) is checked at connection
//! and before every event, revocation included; a run always ends with a
//! final `server_response`, and one profile runs once at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};

/// The adapter that shares rooms through Redis.
pub type SharedAdapter = RedisAdapter<socketioxide::adapter::Emitter>;

use recofinement_domain::Permission;

use crate::state::AppState;

/// Who is connected: checked from the handshake's `token` header.
#[derive(Clone, Debug)]
struct SocketUser {
    user_id: i64,
    uuid: String,
}

/// Why a connection or an event is refused (the original's texts).
#[derive(Debug)]
struct Refusal(&'static str);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refusal {}

/// Profiles with a run in progress in this instance, so a second launch is
/// refused, and how many more runs this instance may start.
#[derive(Clone)]
struct RunningProfiles {
    profiles: Arc<Mutex<HashSet<i64>>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl RunningProfiles {
    fn new(max_runs: usize) -> Self {
        RunningProfiles {
            profiles: Arc::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(max_runs.max(1))),
        }
    }
    fn start(&self, profile_id: i64) -> bool {
        self.profiles
            .lock()
            .map(|mut s| s.insert(profile_id))
            .unwrap_or(false)
    }
    fn finish(&self, profile_id: i64) {
        if let Ok(mut s) = self.profiles.lock() {
            s.remove(&profile_id);
        }
    }
    fn idle(&self) -> bool {
        self.profiles.lock().map(|s| s.is_empty()).unwrap_or(true)
    }
}

/// How long a stopping server waits for its sandbox runs to send their
/// outcome (they are cancelled, so this is short) before closing sessions.
const OUTCOMES_AT_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(3);

/// At shutdown: once this instance's sandbox runs have told their outcome
/// (interrupted), closes the session cleanly (a Socket.IO disconnect
/// packet, not a dropped connection).
async fn close_at_shutdown<A: Adapter>(
    socket: SocketRef<A>,
    state: AppState,
    running: RunningProfiles,
    closed: tokio::sync::oneshot::Receiver<()>,
) {
    tokio::select! {
        () = state.engine_hooks.stopping() => {}
        _ = closed => return,
    }
    let deadline = tokio::time::Instant::now() + OUTCOMES_AT_SHUTDOWN;
    while !running.idle() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = socket.emit(
        "server_response",
        &json!({"on": "disconnect", "action": "disconnect", "message": "Error 503, The server is shutting down!"}),
    );
    let _ = socket.disconnect();
}

const BUSY: &str = "Error 429, Too many recommendations are running, try again later!";

/// Whether every instance together is below its limit of runs.
async fn below_global_limit(state: &AppState) -> bool {
    let timeout = chrono::Duration::from_std(state.config.sandbox_timeout)
        .unwrap_or(chrono::Duration::minutes(5));
    match state
        .db
        .running_sandbox_runs(recofinement_store::now() - timeout)
        .await
    {
        Ok(running) => running < state.config.sandbox_max_runs_total,
        Err(error) => {
            tracing::error!(%error, "sandbox: cannot count the running runs");
            false
        }
    }
}

/// The Socket.IO layer to put on the router, and its handle.
pub fn layer(state: AppState) -> (SocketIoLayer, SocketIo) {
    let running = RunningProfiles::new(state.config.sandbox_max_runs);
    let (layer, io) = SocketIo::builder()
        .with_state(state)
        .with_state(running)
        .build_layer();
    io.ns("/recommend", on_connect.with(authenticate));
    (layer, io)
}

/// The Socket.IO layer with rooms shared through Redis (several instances).
pub async fn redis_layer(
    state: AppState,
    url: &str,
) -> anyhow::Result<(SocketIoLayer<SharedAdapter>, SocketIo<SharedAdapter>)> {
    // The adapter listens through RESP3 push messages.
    let url = if url.contains("protocol=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    };
    let client = redis::Client::open(url)?;
    let adapter = RedisAdapterCtr::new_with_redis(&client).await?;
    let running = RunningProfiles::new(state.config.sandbox_max_runs);
    let (layer, io) = SocketIo::builder()
        .with_state(state)
        .with_state(running)
        .with_adapter::<SharedAdapter>(adapter)
        .build_layer();
    io.ns("/recommend", on_connect.with(authenticate))
        .await
        .map_err(|e| anyhow::anyhow!("socket.io redis adapter: {e}"))?;
    Ok((layer, io))
}

async fn check<A: Adapter>(socket: &SocketRef<A>, state: &AppState) -> Result<SocketUser, Refusal> {
    let token = socket
        .req_parts()
        .headers
        .get("token")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal("Token not found !"))?;
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let claims = state
        .jwt
        .decode_access(token)
        .map_err(|_| Refusal("Unauthorized!"))?;
    let session = state
        .db
        .session(&claims.identity, &claims.jti)
        .await
        .map_err(|_| Refusal("Unauthorized!"))?
        .ok_or(Refusal("User not found!"))?;
    if session.revoked || session.token_version != claims.ver {
        return Err(Refusal("Unauthorized!"));
    }
    let allowed = state
        .db
        .has_permission(session.user_id, Permission::AccessSandbox.as_str())
        .await
        .map_err(|_| Refusal("Unauthorized!"))?;
    if !allowed {
        return Err(Refusal("Permission missing!"));
    }
    Ok(SocketUser {
        user_id: session.user_id,
        uuid: claims.identity,
    })
}

/// Connection middleware: a refusal becomes `connect_error` `{"message": …}`.
async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
) -> Result<(), Refusal> {
    let user = check(&socket, &state).await?;
    socket.extensions.insert(user);
    Ok(())
}

/// Re-checks the token before an event; on failure tells the socket why
/// and disconnects it.
async fn recheck<A: Adapter>(
    socket: &SocketRef<A>,
    state: &AppState,
    event: &str,
) -> Option<SocketUser> {
    match check(socket, state).await {
        Ok(user) => Some(user),
        Err(refusal) => {
            let _ = socket.emit(
                "server_response",
                &json!({"on": event, "message": format!("Error 401, {refusal}")}),
            );
            let _ = socket.clone().disconnect();
            None
        }
    }
}

fn room(user: &SocketUser) -> String {
    format!("user{}", user.uuid)
}

async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    State(running): State<RunningProfiles>,
) {
    metrics::gauge!("recofinement_socketio_connections").increment(1.0);
    let (closed_tx, closed) = tokio::sync::oneshot::channel::<()>();
    let closed_tx = Arc::new(Mutex::new(Some(closed_tx)));
    socket.on_disconnect(move || {
        let closed_tx = closed_tx.clone();
        async move {
            metrics::gauge!("recofinement_socketio_connections").decrement(1.0);
            if let Some(tx) = closed_tx.lock().ok().and_then(|mut tx| tx.take()) {
                let _ = tx.send(());
            }
        }
    });
    tokio::spawn(close_at_shutdown(socket.clone(), state, running, closed));
    let _ = socket.emit(
        "server_response",
        &json!({"on": "connect", "action": "connect", "message": "Connected"}),
    );
    socket.on("join", on_join);
    socket.on("leave", on_leave);
    socket.on("recommend", on_recommend);
}

async fn on_join<A: Adapter>(socket: SocketRef<A>, State(state): State<AppState>) {
    move_in_room(socket, &state, RoomMove::Join).await;
}

async fn on_leave<A: Adapter>(socket: SocketRef<A>, State(state): State<AppState>) {
    move_in_room(socket, &state, RoomMove::Leave).await;
}

/// What a tab asks of its user's room.
#[derive(Clone, Copy)]
enum RoomMove {
    Join,
    Leave,
}

impl RoomMove {
    fn event(self) -> &'static str {
        match self {
            RoomMove::Join => "join",
            RoomMove::Leave => "leave",
        }
    }

    /// The original's words, spelling included.
    fn done(self) -> &'static str {
        match self {
            RoomMove::Join => "Room successfully joined",
            RoomMove::Leave => "Room successfully leaved",
        }
    }
}

/// Joins or leaves the caller's room, then tells the room: the tab that
/// joined hears it with the others, the tab that left no longer does.
async fn move_in_room<A: Adapter>(socket: SocketRef<A>, state: &AppState, step: RoomMove) {
    let Some(user) = recheck(&socket, state, step.event()).await else {
        return;
    };
    let room = room(&user);
    match step {
        RoomMove::Join => socket.join(room.clone()),
        RoomMove::Leave => socket.leave(room.clone()),
    }
    let message = json!({"on": step.event(), "action": step.event(), "message": step.done(),
        "user_uuid": user.uuid, "room": room});
    let _ = socket.within(room).emit("server_response", &message).await;
}

async fn on_recommend<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    State(running): State<RunningProfiles>,
    TryData(data): TryData<Value>,
) {
    let Some(user) = recheck(&socket, &state, "recommend").await else {
        return;
    };
    let reply = |message: &str| {
        let _ = socket.emit(
            "server_response",
            &json!({"on": "recommend", "message": message}),
        );
    };
    let Some(raw) = data
        .ok()
        .as_ref()
        .and_then(|d| d.get("profile_uuid"))
        .cloned()
    else {
        return reply("Error 400, data must contain 'profile_uuid' attr!");
    };
    let Some(profile_uuid) = raw.as_str().and_then(crate::extract::parse_uuid) else {
        return reply("Error 400, 'profile_uuid' not valid uuid4!");
    };
    let room = room(&user);
    socket.join(room.clone());
    let joined = json!({"on": "recommend", "action": "join", "message": "Room joined", "user_uuid": user.uuid, "room": room});
    let _ = socket
        .within(room.clone())
        .emit("server_response", &joined)
        .await;
    let outcome = |message: String, profile: Option<Value>| {
        let mut body = json!({"on": "recommend", "action": "recommend", "message": message});
        if let Some(profile) = profile {
            body["profile"] = profile;
        }
        body
    };
    let profile = match state.db.owned_profile(user.user_id, &profile_uuid).await {
        Ok(Some(profile)) => profile,
        Ok(None) => {
            let _ = socket
                .within(room)
                .emit(
                    "server_response",
                    &outcome("Error 404, Profile not found!".into(), None),
                )
                .await;
            return;
        }
        Err(error) => {
            tracing::error!(%error, "sandbox: profile lookup failed");
            let message = outcome(
                "Error 500, Something went wrong during the process!".into(),
                None,
            );
            let _ = socket.within(room).emit("server_response", &message).await;
            return;
        }
    };
    let Ok(_slot) = running.slots.clone().try_acquire_owned() else {
        return reply(BUSY);
    };
    if !below_global_limit(&state).await {
        return reply(BUSY);
    }
    if !running.start(profile.profile_id) {
        return reply("Error 409, A recommendation is already running for this profile!");
    }
    let base = json!({"uuid": profile.uuid, "profilename": profile.profilename});
    let message = run_sandbox(&state, profile.profile_id).await;
    // The outcome goes out before the profile is free: a stopping server
    // closes the sessions only once every outcome is sent.
    let _ = socket
        .within(room)
        .emit("server_response", &outcome(message, Some(base)))
        .await;
    running.finish(profile.profile_id);
}

/// Records the run, computes it off the reactor with a timeout, and says
/// how it ended in the original's `"<code>, <message>"` form.
async fn run_sandbox(state: &AppState, profile_id: i64) -> String {
    let run_id = match state.db.snapshot_profile(profile_id).await {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "sandbox: cannot record the run");
            return "Error 500, Something went wrong during the process!".into();
        }
    };
    let failed = |status: &'static str| async move {
        if let Err(error) = state.db.finish_run(run_id, &[], status).await {
            tracing::error!(%error, run_id, "sandbox: cannot mark the run");
        }
    };
    match tokio::time::timeout(
        state.config.sandbox_timeout,
        state.engine_hooks.run_profile(run_id),
    )
    .await
    {
        Ok(Ok(rows)) => {
            tracing::info!(run_id, rows, "sandbox run complete");
            "200, Recommendation complete for this profile!".into()
        }
        Ok(Err(crate::state::SandboxError::Interrupted)) => {
            tracing::warn!(run_id, "sandbox run interrupted by the shutdown");
            failed("interrupted").await;
            "Error 503, The server is shutting down: the recommendation was interrupted!".into()
        }
        Ok(Err(error)) => {
            let error = anyhow::Error::new(error);
            tracing::error!(error = format!("{error:#}"), run_id, "sandbox run failed");
            failed("failed").await;
            "Error 500, Error during the process!".into()
        }
        // Dropping the computation's future cancels it (the engine stops
        // computing within a second).
        Err(_) => {
            failed("timeout").await;
            "Error 504, The recommendation took too long!".into()
        }
    }
}
