//! The controller's transitions, driven against a stub executor whose
//! task exits when the test says, with tokio's paused clock for grace
//! periods and health-check intervals.

use std::sync::Mutex as StdMutex;

use shoal_proto::{ContainerSpec, HealthConfig, TaskSpec};
use tokio::sync::oneshot;

use super::*;

/// What the stub was asked, in order.
type Log = Arc<StdMutex<Vec<String>>>;

/// An executor that runs nothing: `start` gives a handle whose task ends
/// when the test sends its exit status.
#[derive(Default)]
struct Stub {
    log: Log,
    prepare_error: Option<String>,
    exit: StdMutex<Option<oneshot::Receiver<ExitStatus>>>,
    /// Health probe results, in order (then healthy).
    probes: StdMutex<Vec<bool>>,
}

struct StubHandle {
    log: Log,
    exit: oneshot::Receiver<ExitStatus>,
}

impl Stub {
    fn note(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }
}

impl TaskHandle for StubHandle {
    fn pid(&self) -> i32 {
        4242
    }

    fn signaller(&self) -> crate::executor::Signaller {
        let log = self.log.clone();
        Box::new(move |signal| log.lock().unwrap().push(format!("signal {signal}")))
    }

    async fn wait(self) -> Result<ExitStatus, ExecError> {
        self.exit.await.map_err(|_| ExecError("the stub's exit was dropped".into()))
    }
}

impl Executor for Stub {
    type Prepared = ();
    type Handle = StubHandle;

    async fn prepare(&self, _: &Task, _: Option<std::path::PathBuf>) -> Result<(), ExecError> {
        self.note("prepare".into());
        self.prepare_error.clone().map_or(Ok(()), |e| Err(ExecError(e)))
    }

    async fn start(&self, _: &Task, _: ()) -> Result<StubHandle, ExecError> {
        self.note("start".into());
        let exit = self.exit.lock().unwrap().take().ok_or_else(|| ExecError("started twice".into()))?;
        Ok(StubHandle { log: self.log.clone(), exit })
    }

    async fn adopt(&self, _: &str) -> Adopted<StubHandle> {
        Adopted::Lost
    }

    async fn remove(&self, _: &str) -> std::io::Result<()> {
        Ok(())
    }

    async fn probe(&self, _: &Task, _: Vec<String>) -> bool {
        let mut probes = self.probes.lock().unwrap();
        let ok = if probes.is_empty() { true } else { probes.remove(0) };
        drop(probes);
        self.note(format!("probe {ok}"));
        ok
    }
}

/// A controller under test, its task's desired state and its task's exit.
struct Run {
    desired: watch::Sender<Task>,
    exit: Option<oneshot::Sender<ExitStatus>>,
    reporter: Reporter,
    log: Log,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn task(desired: TaskState, container: ContainerSpec) -> Task {
    Task {
        id: "t1".into(),
        desired_state: desired as i32,
        spec: Some(TaskSpec { container: Some(container), ..Default::default() }),
        ..Default::default()
    }
}

fn run(task: Task, stub: Stub) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (exit_tx, exit_rx) = oneshot::channel();
    *stub.exit.lock().unwrap() = Some(exit_rx);
    let log = stub.log.clone();
    let (desired, rx) = watch::channel(task);
    let reporter = Reporter::default();
    let controller = Controller {
        exec: Arc::new(stub),
        reporter: reporter.clone(),
        task: rx,
        dir: TaskDir::new(dir.path(), "t1"),
        running: Default::default(),
        network: None,
        ended: Default::default(),
    };
    let done = tokio::spawn(controller.run());
    Run { desired, exit: Some(exit_tx), reporter, log, done, _dir: dir }
}

impl Run {
    /// Waits (on the paused clock) until the latest report satisfies `f`.
    async fn until(&self, what: &str, f: impl Fn(&TaskStatus) -> bool) -> TaskStatus {
        let latest = || self.reporter.take().into_iter().filter_map(|u| u.status).next_back().filter(|s| f(s));
        eventually(&format!("reported {what}"), latest).await
    }

    async fn state(&self, state: TaskState) -> TaskStatus {
        self.until(&format!("{state:?}"), |s| s.state() == state).await
    }

    fn desire(&self, state: TaskState) {
        self.desired.send_modify(|t| t.set_desired_state(state));
    }

    fn exits(&mut self, status: ExitStatus) {
        let _ = self.exit.take().expect("exits once").send(status);
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (on the paused clock) until the stub was asked `entry`.
    async fn logged(&self, entry: &str) {
        eventually(&format!("asked {entry}"), || self.log().iter().any(|e| e == entry).then_some(())).await
    }
}

/// Polls `found` every 10 ms of the paused clock until it gives a value;
/// fails after an hour of it.
async fn eventually<T>(what: &str, found: impl Fn() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn sleeper() -> ContainerSpec {
    ContainerSpec { image: "sleep".into(), ..Default::default() }
}

#[tokio::test(start_paused = true)]
async fn a_held_task_is_prepared_and_starts_only_when_told() {
    let mut run = run(task(TaskState::Ready, sleeper()), Stub::default());
    run.state(TaskState::Ready).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(run.log(), ["prepare"], "held for its restart delay: not started");
    run.desire(TaskState::Running);
    let running = run.state(TaskState::Running).await;
    assert_eq!(running.container.unwrap().pid, 4242);
    assert_eq!(run.log(), ["prepare", "start"]);
    run.exits(ExitStatus::Code(0));
    let done = run.state(TaskState::Complete).await;
    assert_eq!(done.container.unwrap().exit_code, 0);
    run.done.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_task_that_cannot_be_prepared_fails_without_starting() {
    let stub = Stub { prepare_error: Some("no such program: nope".into()), ..Default::default() };
    let run = run(task(TaskState::Running, sleeper()), stub);
    let failed = run.state(TaskState::Failed).await;
    assert_eq!(failed.err, "no such program: nope");
    assert_eq!(run.log(), ["prepare"]);
}

#[tokio::test(start_paused = true)]
async fn a_held_task_told_to_stop_ends_shutdown_unstarted() {
    let run = run(task(TaskState::Ready, sleeper()), Stub::default());
    run.state(TaskState::Ready).await;
    run.desire(TaskState::Shutdown);
    run.state(TaskState::Shutdown).await;
    assert_eq!(run.log(), ["prepare"]);
}

#[tokio::test(start_paused = true)]
async fn a_non_zero_exit_fails_the_task() {
    let mut run = run(task(TaskState::Running, sleeper()), Stub::default());
    run.state(TaskState::Running).await;
    run.exits(ExitStatus::Code(3));
    let failed = run.state(TaskState::Failed).await;
    assert_eq!(failed.err, "task: non-zero exit (3)");
    assert_eq!(failed.container.unwrap().exit_code, 3);
}

#[tokio::test(start_paused = true)]
async fn a_stop_sends_the_stop_signal_then_sigkill_after_the_grace_period() {
    let container = ContainerSpec {
        stop_signal: "SIGINT".into(),
        stop_grace_period_ns: Some(Duration::from_secs(5).as_nanos() as i64),
        ..sleeper()
    };
    let mut run = run(task(TaskState::Running, container), Stub::default());
    run.state(TaskState::Running).await;
    run.desire(TaskState::Shutdown);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(run.log(), ["prepare", "start", "signal 2"], "SIGINT, and no SIGKILL within the grace period");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(run.log(), ["prepare", "start", "signal 2", "signal 9"]);
    run.exits(ExitStatus::Signal(9));
    let stopped = run.state(TaskState::Shutdown).await;
    assert_eq!(stopped.container.unwrap().exit_code, 137);
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_task_is_stopped_and_fails() {
    let health = HealthConfig {
        test: vec!["CMD".into(), "check".into()],
        interval_ns: Duration::from_secs(2).as_nanos() as i64,
        retries: 2,
        ..Default::default()
    };
    let container = ContainerSpec { healthcheck: Some(health), ..sleeper() };
    let stub = Stub { probes: StdMutex::new(vec![true, false, false]), ..Default::default() };
    let mut run = run(task(TaskState::Running, container), stub);
    run.until("healthy", |s| s.health() == TaskHealth::Healthy).await;
    run.until("unhealthy", |s| s.health() == TaskHealth::Unhealthy).await;
    // Stopped with its stop signal once unhealthy, then it exits.
    run.logged("signal 15").await;
    assert_eq!(run.log(), ["prepare", "start", "probe true", "probe false", "probe false", "signal 15"]);
    run.exits(ExitStatus::Signal(15));
    let failed = run.state(TaskState::Failed).await;
    assert_eq!(failed.err, "unhealthy container", "for its restart policy");
}

#[tokio::test(start_paused = true)]
async fn a_stopping_worker_leaves_the_task_running() {
    let run = run(task(TaskState::Running, sleeper()), Stub::default());
    run.state(TaskState::Running).await;
    let Run { desired, done, log, exit, .. } = run;
    drop(desired);
    done.await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["prepare", "start"], "no signal: re-adopted after the restart");
    drop(exit);
}
