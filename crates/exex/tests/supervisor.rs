//! The supervisor with fake actors: failure propagation, bounded shutdown, no leaked tasks.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rollup_exex::{ActorSupervisor, KonaExExError};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Sets its flag when dropped: tells whether an actor's future was torn down.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An actor error with a cause under it, as kona's are.
#[derive(Debug, thiserror::Error)]
#[error("pipeline reset failed")]
struct ResetFailed(#[source] std::io::Error);

/// A well-behaved actor: runs until cancelled, then returns Ok.
async fn polite(token: CancellationToken, stopped: Arc<AtomicUsize>) -> Result<(), std::io::Error> {
    token.cancelled().await;
    stopped.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test]
async fn first_failure_cancels_the_rest_and_is_returned() {
    let token = CancellationToken::new();
    let stopped = Arc::new(AtomicUsize::new(0));
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    for name in ["engine", "network", "rpc"] {
        supervisor.spawn(name, polite(token.clone(), stopped.clone()));
    }
    supervisor.spawn("derivation", async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<(), _>(ResetFailed(std::io::Error::other("L1 block 7 is missing")))
    });

    let err = supervisor.run().await.unwrap_err();
    assert_eq!(err.to_string(), "kona actor `derivation` failed: pipeline reset failed");
    match &err {
        KonaExExError::ActorSystem { actor, .. } => assert_eq!(*actor, "derivation"),
        other => panic!("unexpected {other:?}"),
    }
    // The actor error's own cause travels with it, as a source chain.
    let chain: Vec<String> =
        std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect();
    assert_eq!(chain[1..], ["pipeline reset failed", "L1 block 7 is missing"], "{chain:?}");
    assert!(token.is_cancelled(), "the failure cancelled the shared token");
    assert_eq!(stopped.load(Ordering::SeqCst), 3, "every other actor saw the cancellation");
}

fn engine_step() -> Result<(), std::io::Error> {
    panic!("engine state corrupted")
}

#[tokio::test]
async fn a_panicking_actor_is_a_failure_with_its_message() {
    let token = CancellationToken::new();
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    supervisor.spawn("l1_watcher", polite(token.clone(), Arc::default()));
    supervisor.spawn("engine", async {
        tokio::task::yield_now().await;
        engine_step()
    });
    let err = supervisor.run().await.unwrap_err();
    assert_eq!(err.to_string(), "kona actor `engine` panicked: engine state corrupted");
    assert!(err.is_restartable(), "a panic is worth a restart");
}

#[tokio::test]
async fn an_actor_returning_on_its_own_is_a_failure() {
    let token = CancellationToken::new();
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    supervisor.spawn("engine", polite(token.clone(), Arc::default()));
    supervisor.spawn("rpc", async { Ok::<(), std::io::Error>(()) });
    let err = supervisor.run().await.unwrap_err();
    assert!(matches!(err, KonaExExError::ActorExited { actor: "rpc" }), "{err:?}");
}

#[tokio::test]
async fn external_cancellation_is_a_clean_stop() {
    let token = CancellationToken::new();
    let stopped = Arc::new(AtomicUsize::new(0));
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    for name in ["engine", "network", "derivation", "l1_watcher"] {
        supervisor.spawn(name, polite(token.clone(), stopped.clone()));
    }
    let run = tokio::spawn(supervisor.run());
    tokio::time::sleep(Duration::from_millis(10)).await;
    token.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.stopped.len(), 4);
    assert!(report.abandoned.is_empty());
    assert_eq!(stopped.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_bounded_and_stuck_actors_are_aborted() {
    let token = CancellationToken::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(10));
    supervisor.spawn("engine", polite(token.clone(), Arc::default()));
    let flag = DropFlag(dropped.clone());
    supervisor.spawn("network", async move {
        let _flag = flag;
        // Ignores cancellation entirely.
        std::future::pending::<()>().await;
        Ok::<(), std::io::Error>(())
    });
    let started = Instant::now();
    let run = tokio::spawn(supervisor.run());
    token.cancel();
    let report = run.await.unwrap().unwrap();
    // Paused clock: the elapsed time is exactly the virtual time the supervisor waited.
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert_eq!(report.stopped, vec!["engine"]);
    assert_eq!(report.abandoned, vec!["network"]);
    assert!(dropped.load(Ordering::SeqCst), "the stuck actor's future was dropped, not leaked");
}

#[tokio::test]
async fn failure_during_shutdown_of_others_still_reports_the_first_failure() {
    let token = CancellationToken::new();
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    let t = token.clone();
    supervisor.spawn("network", async move {
        t.cancelled().await;
        Err::<(), _>(std::io::Error::other("channel closed"))
    });
    supervisor.spawn("engine", async { Err::<(), _>(std::io::Error::other("engine unreachable")) });
    let err = supervisor.run().await.unwrap_err();
    assert!(matches!(err, KonaExExError::ActorSystem { actor: "engine", .. }), "{err:?}");
}

#[tokio::test]
async fn empty_supervisor_returns_at_once() {
    let supervisor = ActorSupervisor::new(CancellationToken::new(), Duration::from_secs(1));
    assert!(supervisor.is_empty());
    let report = supervisor.run().await.unwrap();
    assert!(report.stopped.is_empty() && report.abandoned.is_empty());
}

/// Actors spawned with `spawn_last` (kona's RPC server, which holds the others' query channels)
/// see their token cancelled only once every other actor has returned.
#[tokio::test]
async fn last_stage_actors_stop_after_all_others() {
    let token = CancellationToken::new();
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    for (name, linger) in [("engine", 30u64), ("network", 60)] {
        let (token, order) = (token.clone(), order.clone());
        supervisor.spawn(name, async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_millis(linger)).await;
            order.lock().unwrap().push(name);
            Ok::<(), std::io::Error>(())
        });
    }
    let last = supervisor.last_cancellation().clone();
    let order_rpc = order.clone();
    supervisor.spawn_last("rpc", async move {
        last.cancelled().await;
        order_rpc.lock().unwrap().push("rpc");
        Ok::<(), std::io::Error>(())
    });
    let run = tokio::spawn(supervisor.run());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(order.lock().unwrap().len(), 0, "nothing stops before the token is cancelled");
    token.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(*order.lock().unwrap(), vec!["engine", "network", "rpc"]);
    assert_eq!(report.stopped, vec!["engine", "network", "rpc"]);
    assert!(report.abandoned.is_empty());
}

/// A failing last-stage actor still stops everything, and is the reported failure.
#[tokio::test]
async fn a_failing_last_stage_actor_stops_the_rest() {
    let token = CancellationToken::new();
    let stopped = Arc::new(AtomicUsize::new(0));
    let mut supervisor = ActorSupervisor::new(token.clone(), Duration::from_secs(5));
    supervisor.spawn("engine", polite(token.clone(), stopped.clone()));
    supervisor.spawn_last("rpc", async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<(), _>(std::io::Error::other("server stopped"))
    });
    let err = supervisor.run().await.unwrap_err();
    assert_eq!(err.failed_actor(), Some("rpc"), "{err}");
    assert_eq!(stopped.load(Ordering::SeqCst), 1);
}
