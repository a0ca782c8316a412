//! The async core: one tokio runtime, one HTTP client per identity, bounded concurrency.
//!
//! Workers send a case, then judge the response where it arrived (judging is a pure,
//! synchronous function in [`crate::results`]) and hand the finished result on: moving
//! each raw response to another thread first would cost a thread wake-up per case.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use rolecall_scenario::{
    Body, Identity, Instance, Login, MIN_SECRET_LEN, Method, Route, Secrets, Suite,
};
use tokio::sync::{OnceCell, Semaphore};

use crate::breaker::Breaker;
use crate::classify::Fingerprints;
use crate::config::RunConfig;
use crate::credentials::{self, IdentityHeader};
use crate::errors::{RunnerError, RunnerErrorKind};
use crate::objects::{self, Created, Filled, Made, Objects};
use crate::observed::{BODY_LIMIT, BODY_SCAN_LIMIT, Execution, Observed, Truncated};
use crate::permission::Permission;
use crate::queue::Queue;
use crate::record::{self, Credential, Recorder};
use crate::results::{CaseResult, Evaluator, Outcome, PassDetail};
use crate::target::{self, TargetGuard};

mod walks;

use walks::Walks;

const MAX_REDIRECTS: usize = 10;

struct IdentityState {
    client: Client,
    /// The identity's cookie store. It is consulted by hand rather than by the client,
    /// because cookies are scoped by host, not port: the jar alone would hand them to
    /// another service on the same host after a redirect.
    jar: Arc<Jar>,
    /// Whether the jar holds anything: most identities never have a cookie, and asking
    /// the jar costs a lock and a match per request.
    has_cookies: AtomicBool,
    headers: Vec<IdentityHeader>,
    /// `headers` as sent, converted once; the reason when one cannot be sent.
    wire_headers: Result<Vec<(HeaderName, HeaderValue)>, String>,
    login: OnceCell<Result<Option<String>, String>>,
}

/// Shared state of a run; cheap to clone into tasks.
pub(crate) struct Engine {
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Every case has been collected by now. Joining the workers would only wait for
        // idle connections to close, milliseconds at the end of every run; the runtime
        // winds down on its own threads instead. The target is still stopped before
        // this returns: the engine takes the guard out of the shared state itself.
        // Objects are removed even when the run ends early (a panic, an error): a
        // caller that tore them down already left nothing to do here.
        #[cfg(unix)]
        interrupt::unwatch(&self.shared);
        if let Some(runtime) = &self.runtime
            && (self.shared.objects.get().is_some()
                || self.shared.walks.get().is_some_and(Walks::pending))
        {
            let _ = runtime.block_on(self.shared.clone().tear_down());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.shared.stop_target();
    }
}

struct Shared {
    suite: Arc<Suite>,
    /// Layer-attribution rules, once [`Engine::prepare`] has compiled them: the
    /// built-in ones, extended by the suite's.
    fingerprints: OnceLock<Fingerprints>,
    /// The suite's own rules, checked when the engine starts.
    user_fingerprints: Option<Fingerprints>,
    base: String,
    /// The per-request timeout, for reasons.
    timeout: Duration,
    /// `base`, parsed.
    origin: Url,
    /// Its origin: nothing configured is sent anywhere else.
    target_origin: url::Origin,
    identities: Vec<IdentityState>,
    semaphore: Semaphore,
    /// The requests in flight at most: the number of case workers. Not the semaphore's
    /// free permits when cases start, which fixture set-ups may already hold.
    concurrency: usize,
    /// Replaced, not mutated, when a login captures a token: readers take a cheap snapshot
    /// per case instead of copying the list.
    secrets: RwLock<Arc<Secrets>>,
    /// Notices a target that is down or hung.
    breaker: Breaker,
    /// Whether writes may be sent, and what writes.
    permission: Permission,
    /// The TLS configuration of byte-exact variants (HTTP/1.1 only); `None` when the
    /// target is `insecure`.
    raw_tls: Option<Arc<rustls::ClientConfig>>,
    /// The fixtures the selected cases need, once cases are scheduled.
    objects: OnceLock<Objects>,
    /// Whether refusals are recorded: then passing refusals keep their headers and body.
    recording: bool,
    /// The journey steps the selected cases need, once cases are scheduled.
    walks: OnceLock<Walks>,
    /// Whether the run watches for SIGINT and SIGTERM to tear down.
    watching: AtomicBool,
    /// The tasks creating them: teardown waits for them, so that nothing created while
    /// it runs is left behind.
    setting_up: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Stops the target the engine started; `None` once stopped.
    target: Mutex<Option<TargetGuard>>,
}

impl Shared {
    /// Stops the target (a command's process group, the mock), once.
    fn stop_target(&self) {
        let guard = self.target.lock().ok().and_then(|mut g| g.take());
        drop(guard);
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("base", &self.shared.base)
            .finish_non_exhaustive()
    }
}

fn install_crypto_provider() {
    // reqwest is built without a default provider so that aws-lc is not compiled; ring is
    // installed once per process. A second install (another engine) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Engine {
    /// Starts the runtime and the target, mints credentials and builds the clients.
    pub(crate) fn start(suite: Arc<Suite>, config: &RunConfig) -> Result<Self, RunnerError> {
        config.validate()?;
        install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("rolecall-rt")
            .build()
            .map_err(|e| {
                RunnerError::new(
                    RunnerErrorKind::Target,
                    format!("cannot start the async runtime: {e}"),
                )
            })?;
        let (base, guard) = runtime.block_on(target::start(&suite, config.base_url.as_deref()))?;
        let origin = Url::parse(&base).map_err(|e| {
            RunnerError::new(RunnerErrorKind::Target, format!("invalid base URL: {e}"))
        })?;
        let mut secrets = suite.secrets.clone();
        let timeout = suite.target.timeout.unwrap_or(suite.settings.timeout);
        let tls = tls_config(&suite)?;
        let raw_tls = tls.as_ref().map(|config| {
            let mut config = config.clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        });
        let mut identities = Vec::with_capacity(suite.identities.len());
        for identity in &suite.identities {
            let token = match &identity.credentials.jwt {
                Some(jwt) => Some(credentials::mint(identity, jwt, &mut secrets)?),
                None => None,
            };
            let jar = Arc::new(Jar::default());
            for (name, value) in &identity.credentials.cookies {
                let cookie = format!("{name}={}", value.expose());
                jar.add_cookie_str(&cookie, &origin);
                secrets.insert(&cookie);
            }
            let client = build_client(&suite, timeout, tls.as_ref())?;
            let headers = credentials::headers(identity, token.as_deref(), &suite.settings);
            for header in headers.iter().filter(|h| h.secret) {
                // Services echo what they received, whole or in part (`Basic` decoded to
                // `user:password`): every part of a credential as sent is a secret.
                secrets.insert_header(&header.name, &header.value);
            }
            let wire_headers = headers
                .iter()
                .map(|h| wire_header(&h.name, &h.value))
                .collect();
            identities.push(IdentityState {
                client,
                wire_headers,
                has_cookies: AtomicBool::new(!identity.credentials.cookies.is_empty()),
                jar,
                headers,
                login: OnceCell::new(),
            });
        }
        // A team's rules are checked now, before anything is sent; laying them over the
        // built-in ones is left to `prepare`, like compiling the built-in ones.
        let user_fingerprints = match &suite.settings.fingerprints {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    RunnerError::new(
                        RunnerErrorKind::Suite,
                        format!("cannot read fingerprints {}: {e}", path.display()),
                    )
                })?;
                let user = Fingerprints::from_toml(&text).map_err(|e| {
                    RunnerError::new(
                        RunnerErrorKind::Suite,
                        format!("invalid fingerprints {}:{e}", path.display()),
                    )
                })?;
                Some(user)
            }
        };
        let permission = Permission::new(&suite, config);
        let concurrency = config.concurrency.unwrap_or(suite.settings.concurrency);
        let shared = Arc::new(Shared {
            suite,
            fingerprints: OnceLock::new(),
            user_fingerprints,
            base: base.trim_end_matches('/').to_owned(),
            target_origin: origin.origin(),
            origin,
            identities,
            semaphore: Semaphore::new(concurrency),
            concurrency,
            secrets: RwLock::new(Arc::new(secrets)),
            breaker: Breaker::new(timeout),
            timeout,
            permission,
            raw_tls,
            objects: OnceLock::new(),
            recording: config.record.is_some(),
            walks: OnceLock::new(),
            watching: AtomicBool::new(false),
            setting_up: Mutex::new(Vec::new()),
            target: Mutex::new(None),
        });
        // A service the run started is stopped when the run is interrupted.
        #[cfg(unix)]
        if guard.runs_a_command() && !shared.watching.swap(true, Ordering::SeqCst) {
            interrupt::watch(runtime.handle(), &shared);
        }
        if let Ok(mut target) = shared.target.lock() {
            *target = Some(guard);
        }
        Ok(Engine {
            runtime: Some(runtime),
            shared,
        })
    }

    /// The recorder of `config.record`, if any, with each identity's credential digest
    /// (see [`Credential`]): its directory is created now, before anything is sent.
    pub(crate) fn recorder(&self, config: &RunConfig) -> Result<Option<Recorder>, RunnerError> {
        let Some(dir) = &config.record else {
            return Ok(None);
        };
        let salt = record::salt();
        let shared = &self.shared;
        let credentials = shared
            .identities
            .iter()
            .map(|state| {
                let mut sent: Vec<(&str, String)> = state
                    .headers
                    .iter()
                    .filter(|h| h.secret)
                    .map(|h| (h.name.as_str(), h.value.clone()))
                    .collect();
                if state.has_cookies.load(Ordering::Relaxed)
                    && let Some(cookies) = state.jar.cookies(&shared.origin)
                {
                    sent.push(("cookie", String::from_utf8_lossy(cookies.as_bytes()).into()));
                }
                let sent: Vec<(&str, &str)> = sent.iter().map(|(n, v)| (*n, v.as_str())).collect();
                Credential::of(&salt, &sent)
            })
            .collect();
        Recorder::create(dir, credentials).map(Some)
    }

    /// Removes every object the run created, once the creations in flight are done,
    /// and stops the target, however many holders the engine has: what the run
    /// started ends with it even when a case is still in flight (it then fails). The
    /// failed teardowns, redacted.
    pub(crate) fn shutdown(&self) -> Vec<String> {
        #[cfg(unix)]
        interrupt::unwatch(&self.shared);
        let failures = self.tear_down();
        self.shared.stop_target();
        failures
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the engine")
    }

    /// The base URL requests go to.
    pub(crate) fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// Every secret known so far, including minted and captured tokens.
    pub(crate) fn secrets(&self) -> Arc<Secrets> {
        self.shared.secrets()
    }

    /// Compiles the layer-attribution rules, on the calling thread.
    ///
    /// Compiling takes a few milliseconds of CPU. Called by the thread that collects
    /// results, once requests are in flight, it costs the run nothing: that thread would
    /// otherwise wait, and workers never do, because they hand over unjudged what
    /// arrives before the rules are ready (see [`Finished`]).
    pub(crate) fn prepare(&self) -> &Fingerprints {
        self.shared.rules()
    }

    /// The result of a finished case, judging it now (and keeping what `retain` says,
    /// as the worker would have) if the worker could not.
    pub(crate) fn judged(&self, finished: Finished, retain: Retain) -> CaseResult {
        match finished {
            Finished::Judged(result) => result,
            Finished::Unjudged(index, execution) => {
                self.prepare();
                let mut result = self.shared.evaluate(index, execution, retain);
                self.shared.strip(&mut result, retain);
                result
            }
        }
    }

    /// Executes the cases at `indices` with as many workers as requests may be in
    /// flight; `done` receives each case, on the worker that finished it. Workers take
    /// the next case when they finish one, so memory does not grow with the number of
    /// cases, and they take it from the identity with the fewest requests in flight
    /// (see [`Queue`]), so that each identity's client opens only its share of the
    /// connections.
    pub(crate) fn execute_all(
        &self,
        indices: Vec<usize>,
        retain: Retain,
        done: impl Fn(Finished) + Send + Sync + 'static,
    ) {
        self.set_up(&indices);
        let workers = self.shared.concurrency.min(indices.len());
        let cases = &self.shared.suite.cases;
        let queue = Arc::new(Queue::new(indices, |index| cases[index].identity));
        let done = Arc::new(done);
        for _ in 0..workers {
            let (shared, queue, done) = (self.shared.clone(), queue.clone(), done.clone());
            self.runtime().spawn(async move {
                let mut ticket = None;
                while let Some(next) = queue.next(ticket) {
                    let index = next.case;
                    let execution = shared.execute(index).await;
                    let finished = if shared.fingerprints.get().is_some() {
                        let mut result = shared.evaluate(index, execution, retain);
                        shared.strip(&mut result, retain);
                        Finished::Judged(result)
                    } else {
                        Finished::Unjudged(index, execution)
                    };
                    done(finished);
                    ticket = Some(next);
                }
            });
        }
    }
}

impl Engine {
    /// Starts creating every object the cases at `indices` need, each as soon as what
    /// it needs exists, and removes them if the process is interrupted. A run that sends
    /// its cases in several calls (the nextest agent, a case per call) plans more with
    /// each: an instance or a journey step already planned is not planned again, and
    /// nothing a case left out needs is created. A case that is not sent (skipped, or a
    /// write the run may not send) needs nothing.
    pub(crate) fn set_up(&self, indices: &[usize]) {
        let suite = &self.shared.suite;
        let mut removable = false;
        if !suite.journeys.is_empty() {
            let walks = self.shared.walks.get_or_init(Walks::default);
            removable = walks.plan(suite, indices);
        }
        if suite.fixtures.is_empty() {
            self.watch_signals(removable);
            return;
        }
        let sent: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| {
                self.shared
                    .permission
                    .skip_reason(suite, &suite.cases[i])
                    .is_none()
            })
            .collect();
        let objects = self.shared.objects.get_or_init(Objects::default);
        let instances = objects.plan(suite, &sent);
        removable |= instances
            .iter()
            .any(|i| suite.fixtures[i.fixture].teardown.is_some());
        let tasks = instances.into_iter().map(|instance| {
            let shared = self.shared.clone();
            self.runtime().spawn(async move {
                shared.ensure(instance).await;
            })
        });
        if let Ok(mut setting_up) = self.shared.setting_up.lock() {
            setting_up.extend(tasks);
        }
        self.watch_signals(removable);
    }

    /// Removes what the run created if the process is interrupted (when something may
    /// need removing); once per run.
    fn watch_signals(&self, removable: bool) {
        #[cfg(unix)]
        if removable && !self.shared.watching.swap(true, Ordering::SeqCst) {
            interrupt::watch(self.runtime().handle(), &self.shared);
        }
        #[cfg(not(unix))]
        let _ = removable;
    }

    /// Removes every object the run created, deepest dependencies last, and returns
    /// why each removal that failed did (redacted). Call it once every case finished;
    /// later calls have nothing left to remove.
    pub(crate) fn tear_down(&self) -> Vec<String> {
        if self.shared.objects.get().is_none() && self.shared.walks.get().is_none() {
            return Vec::new();
        }
        let Some(runtime) = &self.runtime else {
            return Vec::new();
        };
        let failures = runtime.block_on(self.shared.clone().tear_down());
        let secrets = self.secrets();
        failures.iter().map(|f| secrets.redact(f)).collect()
    }
}

/// What an interrupted process does: every engine that created objects removes them,
/// every target a run started is stopped, then the process exits as the shell would
/// show for the signal (130 or 143).
///
/// Once watched, SIGINT and SIGTERM no longer take their default action for the rest of
/// the process (the handler cannot be removed), so the watcher lives as long as the
/// process, on a thread of its own: an interruption after every engine is gone (while
/// reports are written) still ends the process.
#[cfg(unix)]
mod interrupt {
    use std::sync::{Arc, Mutex, Once, Weak};

    use super::Shared;

    /// The engines to clean up: their runtime and their state.
    static WATCHED: Mutex<Vec<(tokio::runtime::Handle, Weak<Shared>)>> = Mutex::new(Vec::new());
    static WATCHER: Once = Once::new();

    /// Cleans up after the engine whose state is `shared` if the process is interrupted.
    pub(super) fn watch(runtime: &tokio::runtime::Handle, shared: &Arc<Shared>) {
        if let Ok(mut watched) = WATCHED.lock() {
            watched
                .retain(|(_, w)| w.strong_count() > 0 && !Weak::ptr_eq(w, &Arc::downgrade(shared)));
            watched.push((runtime.clone(), Arc::downgrade(shared)));
        }
        WATCHER.call_once(|| {
            let (ready, listening) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("rolecall-signals".to_owned())
                .spawn(move || watcher(&ready));
            // The handlers are installed before the run goes on.
            if spawned.is_ok() {
                let _ = listening.recv();
            }
        });
    }

    /// Forgets the engine whose state is `shared`: it is shutting down by itself.
    pub(super) fn unwatch(shared: &Arc<Shared>) {
        if let Ok(mut watched) = WATCHED.lock() {
            watched
                .retain(|(_, w)| w.strong_count() > 0 && !Weak::ptr_eq(w, &Arc::downgrade(shared)));
        }
    }

    fn watcher(ready: &std::sync::mpsc::Sender<()>) {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = ready.send(());
            return;
        };
        let code = runtime.block_on(async {
            let handlers = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            );
            let _ = ready.send(());
            // A signal that cannot be watched is never waited for.
            let (Ok(mut int), Ok(mut term)) = handlers else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
            }
        });
        let watched = WATCHED
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for (handle, shared) in watched {
            let Some(shared) = shared.upgrade() else {
                continue;
            };
            // An engine shutting down at this moment must not keep the process alive.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let had_objects = shared.objects.get().is_some();
                let failures = handle.block_on(shared.clone().tear_down());
                shared.stop_target();
                let mut err = rolecall_scenario::Redacted::new(shared.secrets(), std::io::stderr());
                let _ = report_interruption(&mut err, had_objects, &failures);
            }));
        }
        std::process::exit(code);
    }

    /// What an interrupted run says on its way out: every teardown that failed.
    fn report_interruption(
        out: &mut impl std::io::Write,
        had_objects: bool,
        failures: &[String],
    ) -> std::io::Result<()> {
        let notice = if had_objects {
            "rolecall: interrupted; objects the run created were torn down"
        } else {
            "rolecall: interrupted; the target the run started was stopped"
        };
        writeln!(out, "{notice}")?;
        for failure in failures {
            writeln!(out, "error: teardown failed: {failure}")?;
        }
        out.flush()
    }
}

/// What a judged result keeps when it leaves the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retain {
    /// What reports use: everything but the headers and body of a passing case.
    Reports,
    /// What a line per case shows: a passing case keeps its status, layer and vendor.
    Lines,
    /// What libtest trials use: a passing case without a snapshot needs only its
    /// outcome. The rest is dropped on the worker that allocated it: freeing it on the
    /// reporting thread instead costs glibc's allocator a lock per block, measurably.
    Failures,
}

/// A case the engine is done with. Workers judge what they receive (judging where the
/// response arrived spares a hand-off per case), except before the rules are compiled,
/// which they never wait for.
#[derive(Debug)]
pub(crate) enum Finished {
    /// Judged by the worker.
    Judged(CaseResult),
    /// Still to judge, with [`Engine::judged`]: the case index and what happened.
    Unjudged(usize, Execution),
}

impl Finished {
    /// The index of the case in the suite.
    pub(crate) fn index(&self) -> usize {
        match self {
            Finished::Judged(result) => result.index,
            Finished::Unjudged(index, _) => *index,
        }
    }
}

fn client_error(message: String) -> RunnerError {
    RunnerError::new(RunnerErrorKind::Client, message)
}

/// The TLS configuration every identity's client shares. Building it once matters:
/// reqwest would otherwise load and parse the system root store for every client.
/// `None` when the target is `insecure`, which reqwest configures itself.
fn tls_config(suite: &Suite) -> Result<Option<rustls::ClientConfig>, RunnerError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    if suite.target.insecure {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra_roots = match &suite.target.ca_cert {
        None => Vec::new(),
        Some(ca) => {
            let pem = std::fs::read(ca).map_err(|e| {
                client_error(format!("cannot read CA certificate {}: {e}", ca.display()))
            })?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    client_error(format!("invalid CA certificate {}: {e}", ca.display()))
                })?;
            if certs.is_empty() {
                return Err(client_error(format!("no certificate in {}", ca.display())));
            }
            certs
        }
    };
    let verifier = crate::tls::LazyVerifier::new(provider.clone(), extra_roots);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| client_error(format!("invalid TLS versions: {e}")))?
        // A custom verifier is how the platform verifier plugs in; it verifies fully.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(config))
}

fn build_client(
    suite: &Suite,
    timeout: Duration,
    tls: Option<&rustls::ClientConfig>,
) -> Result<Client, RunnerError> {
    let builder = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .no_proxy()
        .pool_max_idle_per_host(suite.settings.concurrency)
        .user_agent(concat!("rolecall/", env!("CARGO_PKG_VERSION")));
    let builder = match tls {
        Some(config) => builder.tls_backend_preconfigured(config.clone()),
        // The explicit insecure switch: no certificate is verified.
        None => builder.tls_danger_accept_invalid_certs(true),
    };
    builder
        .build()
        .map_err(|e| client_error(format!("cannot build the HTTP client: {e}")))
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Options => reqwest::Method::OPTIONS,
        Method::Trace => reqwest::Method::TRACE,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// A request about to be sent, before identity headers.
struct Outgoing<'a> {
    method: Method,
    url: Url,
    headers: Vec<(&'a str, &'a str)>,
    body: Option<&'a Body>,
    /// How much of the response body to read.
    read_limit: usize,
    /// A header a bypass variant sets, replacing the request's own of that name.
    replace: Option<(&'static str, String)>,
}

impl Shared {
    /// Drops, on the worker that allocated it, what `retain` does not keep. A passing
    /// case never keeps its response headers and body unless it snapshots them: no
    /// report shows them, and a large suite would otherwise hold every response.
    /// Whatever is kept, at most an excerpt of a large response is (see
    /// [`Observed::keep_excerpt`]): a thousand failures with large bodies must not hold
    /// them all.
    fn strip(&self, result: &mut CaseResult, retain: Retain) {
        let case = &self.suite.cases[result.index];
        let recorded = self.recording
            && match (&result.observed, &result.attribution) {
                (Some(observed), Some(attribution)) => {
                    record::is_refusal(observed.status, attribution.layer, case.expect.decision)
                }
                _ => false,
            };
        if result.outcome != Outcome::Pass || case.expect.snapshot || recorded {
            if let Some(observed) = &mut result.observed {
                observed.keep_excerpt();
            }
            return;
        }
        match retain {
            Retain::Reports => {
                if let Some(observed) = &mut result.observed {
                    observed.headers = Vec::new();
                    observed.body = String::new();
                }
            }
            Retain::Lines => {
                if let Some(observed) = &mut result.observed {
                    observed.headers = Vec::new();
                    observed.body = String::new();
                    observed.redirects = Vec::new();
                }
                if let Some(attribution) = &mut result.attribution {
                    attribution.evidence = Vec::new();
                    attribution.ambiguity = None;
                }
                result.request_id = None;
                result.verdict = None;
            }
            Retain::Failures => {
                result.observed = None;
                result.attribution = None;
                result.verdict = None;
                result.request_id = None;
            }
        }
    }

    /// Classifies and judges an execution: pure and synchronous, on the calling thread.
    /// The rules must be compiled.
    fn evaluate(&self, index: usize, execution: Execution, retain: Retain) -> CaseResult {
        let evaluator = Evaluator {
            suite: &self.suite,
            fingerprints: self.rules(),
            base_url: &self.base,
            sent_path: match &execution {
                Execution::Skipped(_) => None,
                _ => self.sent_path(index),
            },
        };
        let identity = self.suite.cases[index].identity;
        evaluator.evaluate(
            index,
            execution,
            &self.identities[identity].headers,
            &self.secrets(),
            match retain {
                Retain::Reports => PassDetail::Explained,
                Retain::Lines => PassDetail::Attributed,
                Retain::Failures => PassDetail::Outcome,
            },
        )
    }

    /// The path case `index` was sent at when it has placeholders, filled from the
    /// values its fixtures and the steps before it captured (those it was sent with);
    /// `None` when it has none or they are not all there.
    fn sent_path(&self, index: usize) -> Option<String> {
        let case = &self.suite.cases[index];
        if case.fixtures.is_empty() && case.journey.is_none() {
            return None;
        }
        let mut values = self.walked_values(index);
        for &instance in &case.fixtures {
            let cell = self.objects.get()?.cell(instance)?;
            let Some(Made::Ready(captured)) = cell.get() else {
                return None;
            };
            values.insert(
                self.suite.fixtures[instance.fixture].name.clone(),
                captured.clone(),
            );
        }
        let route = self.suite.route(case);
        objects::fill(route, &case.path, &values, None)
            .ok()
            .map(|f| f.path)
            .filter(|p| *p != case.path)
    }

    /// The layer-attribution rules: the built-in ones, extended by the suite's;
    /// compiled on first use.
    fn rules(&self) -> &Fingerprints {
        self.fingerprints.get_or_init(|| {
            let builtin = Fingerprints::builtin();
            match &self.user_fingerprints {
                Some(user) => builtin.with_user_rules(user),
                None => builtin.clone(),
            }
        })
    }

    /// A snapshot of every secret known so far, including minted and captured tokens.
    fn secrets(&self) -> Arc<Secrets> {
        self.secrets
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default()
    }

    async fn execute(&self, index: usize) -> Execution {
        if self.suite.cases[index].journey.is_some() {
            return self.walk(index).await.execution;
        }
        self.send_case(index, HashMap::new()).await
    }

    /// Sends a case, its placeholders filled from `values` (a journey's captures by
    /// journey name) and from the fixtures it uses.
    async fn send_case(
        &self,
        index: usize,
        mut values: HashMap<String, objects::Captured>,
    ) -> Execution {
        let suite = &self.suite;
        let case = &suite.cases[index];
        if let Some(reason) = self.permission.skip_reason(suite, case) {
            return Execution::Skipped(reason);
        }
        let route = suite.route(case);
        // A case waits for the objects it is sent at; one that is missing makes it an
        // error (or a skip), never a failed expectation.
        let filled = if case.fixtures.is_empty()
            && values.is_empty()
            && !objects::mentions_identity(route)
        {
            None
        } else {
            for &instance in &case.fixtures {
                match self.ensure(instance).await {
                    Made::Ready(captured) => {
                        values.insert(suite.fixtures[instance.fixture].name.clone(), captured);
                    }
                    Made::Failed(reason) => return Execution::Error(reason),
                    Made::Skipped(reason) => return Execution::Skipped(reason),
                }
            }
            let sender = suite.identities[case.identity].name.as_str();
            match objects::fill(route, &case.path, &values, Some(sender)) {
                Ok(filled) => Some(filled),
                Err(e) => return Execution::Error(e),
            }
        };
        if let Some(reason) = filled
            .as_ref()
            .and_then(|f| self.permission.filled_reason(route.method, &f.path))
        {
            return Execution::Skipped(reason);
        }
        let state = &self.identities[case.identity];
        let login_token = match self.login_token(case.identity).await {
            Ok(token) => token,
            Err(e) => return Execution::Error(e),
        };
        // What judging reads: body expectations the whole body (up to the limit), layer
        // attribution its beginning.
        let read_limit = if case.expect.body.is_empty() && case.journey.is_none() {
            BODY_SCAN_LIMIT
        } else {
            BODY_LIMIT
        };
        let mut request = match self.outgoing(route, &case.path, filled.as_ref(), read_limit) {
            Ok(request) => request,
            Err(e) => return Execution::Error(e),
        };
        if let Some(variant) = &case.variant {
            let built =
                match crate::variant::build(variant, route.method, request.url, &self.secrets()) {
                    Ok(built) => built,
                    Err(reason) => return Execution::Skipped(reason),
                };
            if built.method.is_safe() && !route.method.is_safe() {
                request.body = None;
            }
            request.method = built.method;
            request.url = built.url.clone();
            request.replace = built.header.clone();
            if built.raw_target.is_some() {
                return self
                    .send_raw(state, request, &built, login_token.as_deref())
                    .await;
            }
        }
        self.send(
            state,
            request,
            login_token.as_deref(),
            case.expect.follow_redirects,
        )
        .await
    }

    /// The request of `route` at `path`, or as `filled` when it uses objects.
    fn outgoing<'a>(
        &'a self,
        route: &'a Route,
        path: &str,
        filled: Option<&'a Filled>,
        read_limit: usize,
    ) -> Result<Outgoing<'a>, String> {
        let settings = &self.suite.settings;
        let (path, query, own, body) = match filled {
            Some(f) => (f.path.as_str(), &f.query, &f.headers, f.body.as_ref()),
            None => (path, &route.query, &route.headers, route.body.as_ref()),
        };
        let url = self.url(path, query)?;
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(settings.headers.len() + own.len());
        headers.extend(
            settings
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        headers.extend(own.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        Ok(Outgoing {
            method: route.method,
            url,
            headers,
            body,
            read_limit,
            replace: None,
        })
    }

    /// The token an identity's login flow captured, running it once if it has one.
    async fn login_token(&self, identity: usize) -> Result<Option<String>, String> {
        let state = &self.identities[identity];
        let identity = &self.suite.identities[identity];
        match &identity.credentials.login {
            None => Ok(None),
            Some(login) => state
                .login
                .get_or_init(|| self.login(identity, state, login))
                .await
                .clone(),
        }
    }

    /// What became of `instance`, creating it (after what it needs) if no one has.
    fn ensure(&self, instance: Instance) -> Pin<Box<dyn Future<Output = Made> + Send + '_>> {
        Box::pin(async move {
            let cell = self.objects.get().and_then(|o| o.cell(instance));
            match cell {
                Some(cell) => cell.get_or_init(|| self.create(instance)).await.clone(),
                None => Made::Failed(format!(
                    "{} was not set up for this run",
                    objects::describe(&self.suite, instance)
                )),
            }
        })
    }

    /// Creates `instance`: its dependencies first, then its request as its identity,
    /// checked against its status, then its captures.
    async fn create(&self, instance: Instance) -> Made {
        let suite = &self.suite;
        let fixture = &suite.fixtures[instance.fixture];
        let what = objects::describe(suite, instance);
        let mut values = HashMap::new();
        for dep in objects::dependencies(suite, instance) {
            let name = &suite.fixtures[dep.fixture].name;
            match self.ensure(dep).await {
                Made::Ready(captured) => {
                    values.insert(name.clone(), captured);
                }
                Made::Failed(reason) => {
                    return Made::Failed(format!("{what} needs `{name}`, which failed: {reason}"));
                }
                Made::Skipped(reason) => return Made::Skipped(reason),
            }
        }
        if let Some(reason) = self
            .permission
            .object_skip_reason(suite, fixture, instance.identity)
        {
            return Made::Skipped(format!("{what} not created: {reason}"));
        }
        let slot = objects::slot(fixture, instance.identity);
        let creator = suite.identities[instance.identity].name.as_str();
        let filled = match objects::fill(
            &fixture.request,
            &fixture.paths[slot],
            &values,
            Some(creator),
        ) {
            Ok(filled) => filled,
            Err(e) => return Made::Failed(format!("{what}: {e}")),
        };
        if let Some(reason) = self
            .permission
            .filled_reason(fixture.request.method, &filled.path)
        {
            return Made::Skipped(format!("{what} not created: {reason}"));
        }
        let login_token = match self.login_token(instance.identity).await {
            Ok(token) => token,
            Err(e) => return Made::Failed(format!("{what}: {e}")),
        };
        let request = match self.outgoing(&fixture.request, &filled.path, Some(&filled), BODY_LIMIT)
        {
            Ok(request) => request,
            Err(e) => return Made::Failed(format!("{what}: {e}")),
        };
        let state = &self.identities[instance.identity];
        let line = format!("{} {}", fixture.request.method, filled.path);
        let observed = match self
            .send(state, request, login_token.as_deref(), false)
            .await
        {
            Execution::Observed(observed) => observed,
            Execution::Error(e) => return Made::Failed(format!("{what}: {line}: {e}")),
            Execution::Skipped(reason) => return Made::Skipped(format!("{what}: {reason}")),
        };
        let status_ok = fixture.status.matches(observed.status);
        // Every secret the answer holds is learned before any message quotes it, whatever
        // the status; a body holding a secret that could not be read is not quoted.
        let (mut captured, missing) =
            objects::capture(&fixture.captures, &observed.headers, &observed.body);
        let mut unlearned = None;
        for capture in fixture.captures.iter().filter(|c| c.secret) {
            match captured.get(&capture.name) {
                Some(value) => {
                    if let Err(e) = self.remember_captured(value) {
                        unlearned.get_or_insert_with(|| {
                            format!("{what}: capture `{}` {e}", capture.name)
                        });
                    }
                }
                None => {
                    unlearned.get_or_insert_with(String::new);
                }
            }
        }
        let quotable = unlearned.is_none();
        let excerpt = || match quotable {
            true => objects::excerpt(&self.secrets().redact(&observed.body)),
            false => "(body not shown: a secret capture could not be read from it)".to_owned(),
        };
        // Any 2xx/3xx made an object, whatever status was expected: its teardown needs
        // what the answer holds.
        let exists = status_ok || (200..400).contains(&observed.status);
        if !exists {
            captured.clear();
        }
        let mut failure = match (status_ok, missing) {
            (false, _) => Some(format!(
                "{what}: {line} answered {}, expected {}: {}",
                observed.status,
                fixture.status,
                excerpt()
            )),
            (true, Some(missing)) => Some(format!(
                "{what}: {line} answered {}, but {missing}: {}",
                observed.status,
                excerpt()
            )),
            (true, None) => None,
        };
        if let Some(reason) = unlearned.filter(|r| !r.is_empty()) {
            failure.get_or_insert(reason);
        }
        let captured = Arc::new(captured);
        // An object that exists is removed whatever went wrong after it was made,
        // whatever the status that said so; a refused request made nothing.
        if exists
            && fixture.teardown.is_some()
            && let Some(objects) = self.objects.get()
        {
            values.insert(fixture.name.clone(), captured.clone());
            let created = Created { instance, values };
            if objects.stopping.load(Ordering::SeqCst) {
                let _ = self.remove(created).await;
            } else if let Ok(mut list) = objects.created.lock() {
                list.push(created);
            }
        }
        match failure {
            Some(reason) => Made::Failed(reason),
            None => Made::Ready(captured),
        }
    }

    /// Removes every created object, the deepest first; the failures, one line each.
    async fn tear_down(self: Arc<Self>) -> Vec<String> {
        // Journey steps first: what a walk made may sit inside a fixture's object.
        let mut failures = self.undo_steps().await;
        let Some(objects) = self.objects.get() else {
            return failures;
        };
        // What is being created now is removed too: wait for it.
        let setting_up = self
            .setting_up
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        for task in setting_up {
            let _ = task.await;
        }
        let mut levels: BTreeMap<usize, Vec<Created>> = BTreeMap::new();
        for created in objects.take_created() {
            let depth = objects::depth(&self.suite, created.instance);
            levels.entry(depth).or_default().push(created);
        }
        for (_, level) in levels.into_iter().rev() {
            let mut set = tokio::task::JoinSet::new();
            for created in level {
                let shared = self.clone();
                set.spawn(async move { shared.remove(created).await });
            }
            while let Some(done) = set.join_next().await {
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => failures.push(e),
                    Err(e) => failures.push(format!("a teardown did not finish: {e}")),
                }
            }
        }
        failures
    }

    /// Sends an object's teardown as the identity that created it. A 2xx removed it;
    /// 404 and 410 say it is gone already.
    async fn remove(&self, created: Created) -> Result<(), String> {
        let suite = &self.suite;
        let instance = created.instance;
        let fixture = &suite.fixtures[instance.fixture];
        let Some(teardown) = &fixture.teardown else {
            return Ok(());
        };
        let what = objects::describe(suite, instance);
        let slot = objects::slot(fixture, instance.identity);
        self.send_teardown(
            &what,
            teardown,
            &fixture.teardown_paths[slot],
            instance.identity,
            &created.values,
        )
        .await
    }

    /// Sends `teardown` at `path` as `identity`, its placeholders filled from `values`.
    /// A 2xx removed the object; 404 and 410 say it is gone already.
    async fn send_teardown(
        &self,
        what: &str,
        teardown: &Route,
        path: &str,
        identity: usize,
        values: &HashMap<String, objects::Captured>,
    ) -> Result<(), String> {
        let creator = self.suite.identities[identity].name.as_str();
        let filled = objects::fill(teardown, path, values, Some(creator))
            .map_err(|e| format!("{what}: object left: teardown {e}"))?;
        if let Some(reason) = self.permission.filled_reason(teardown.method, &filled.path) {
            return Err(format!("{what}: object left: teardown {reason}"));
        }
        if let Some((f, c)) = rolecall_scenario::fixture_refs(&filled.path).next() {
            return Err(format!(
                "{what}: object left: teardown not sent: `{{{f}.{c}}}` was not captured"
            ));
        }
        let line = format!("{} {}", teardown.method, filled.path);
        let login_token = self
            .login_token(identity)
            .await
            .map_err(|e| format!("{what}: teardown {line}: {e}"))?;
        let request = self
            .outgoing(teardown, &filled.path, Some(&filled), BODY_SCAN_LIMIT)
            .map_err(|e| format!("{what}: teardown {line}: {e}"))?;
        let state = &self.identities[identity];
        match self
            .send(state, request, login_token.as_deref(), false)
            .await
        {
            Execution::Observed(o)
                if (200..300).contains(&o.status) || matches!(o.status, 404 | 410) =>
            {
                Ok(())
            }
            Execution::Observed(o) => Err(format!(
                "{what}: teardown {line} answered {}: {}",
                o.status,
                objects::excerpt(&self.secrets().redact(&o.body))
            )),
            Execution::Error(e) | Execution::Skipped(e) => {
                Err(format!("{what}: teardown {line}: {e}"))
            }
        }
    }

    /// Makes a captured credential a secret; one too short to redact is refused.
    fn remember_captured(&self, value: &str) -> Result<(), String> {
        if value.len() < MIN_SECRET_LEN {
            return Err(format!(
                "is a secret of {} bytes, too short to keep out of the output (at least {MIN_SECRET_LEN})",
                value.len()
            ));
        }
        if let Ok(mut secrets) = self.secrets.write() {
            Arc::make_mut(&mut secrets).insert(value);
        }
        Ok(())
    }

    /// Why a request to `url` failed.
    fn describe_error(&self, error: &reqwest::Error, url: &Url) -> String {
        describe_error(
            error,
            url.origin().ascii_serialization().as_str(),
            self.timeout,
        )
    }

    fn url(&self, path: &str, query: &[(String, String)]) -> Result<Url, String> {
        let mut url = request_url(&self.origin, &self.base, path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn send(
        &self,
        state: &IdentityState,
        request: Outgoing<'_>,
        login_token: Option<&str>,
        follow: bool,
    ) -> Execution {
        let _permit = self.semaphore.acquire().await;
        let start = Instant::now();
        let mut url = request.url.clone();
        let mut method = request.method;
        let mut body = request.body;
        let mut redirects = Vec::new();
        loop {
            if let Some(reason) = self.breaker.open() {
                return Execution::Error(reason);
            }
            // Nothing configured goes to a host a redirect names: no credentials, cookies,
            // suite or route headers, and no body (see the redirect handling below).
            let same_origin = url.origin() == self.target_origin;
            let mut outgoing = reqwest::Request::new(reqwest_method(method), url.clone());
            let map = outgoing.headers_mut();
            if same_origin && let Err(e) = fill_headers(map, state, &request, login_token, &url) {
                return Execution::Error(e);
            }
            let (content_type, payload) = payload(body);
            if let Some(content_type) = content_type
                && let Err(e) = append(map, "content-type", content_type)
            {
                return Execution::Error(e);
            }
            if let Some(payload) = payload {
                *outgoing.body_mut() = Some(payload.into());
            }
            // Every request stops waiting once the target is found hung.
            let mut watch = self.breaker.watch();
            let sent = tokio::select! {
                biased;
                sent = state.client.execute(outgoing) => sent,
                () = watch.cancelled() => return Execution::Error(self.breaker.cancelled()),
            };
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    if same_origin {
                        self.breaker.failed(&e, &watch);
                    }
                    return Execution::Error(self.describe_error(&e, &url));
                }
            };
            if same_origin {
                self.breaker.answered();
            }
            if same_origin && response.headers().contains_key(reqwest::header::SET_COOKIE) {
                let mut set = response
                    .headers()
                    .get_all(reqwest::header::SET_COOKIE)
                    .iter();
                state.jar.set_cookies(&mut set, &url);
                state.has_cookies.store(true, Ordering::Relaxed);
            }
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            let read = tokio::select! {
                biased;
                read = read_body(response, request.read_limit) => read,
                () = watch.cancelled() => return Execution::Error(self.breaker.cancelled()),
            };
            let (body_text, truncated) = match read {
                Ok(b) => b,
                Err(e) => return Execution::Error(self.describe_error(&e, &url)),
            };
            let next = location
                .filter(|_| {
                    follow && (300..400).contains(&status) && redirects.len() < MAX_REDIRECTS
                })
                .and_then(|l| url.join(&l).ok())
                // A 307/308 would replay a write elsewhere: only a safe request follows one
                // to another origin; otherwise the redirect itself is the observed answer.
                .filter(|next| {
                    next.origin() == self.target_origin
                        || !matches!(status, 307 | 308)
                        || (method.is_safe() && body.is_none())
                });
            match next {
                Some(next) => {
                    redirects.push(next.to_string());
                    if matches!(status, 301..=303) && method != Method::Head {
                        method = Method::Get;
                        body = None;
                    }
                    if next.origin() != self.target_origin {
                        body = None;
                    }
                    url = next;
                }
                None => {
                    return Execution::Observed(Observed {
                        status,
                        headers,
                        body: body_text,
                        truncated,
                        redirects,
                        elapsed: start.elapsed(),
                    });
                }
            }
        }
    }

    /// Sends a byte-exact variant on a raw connection, under the same timeout, breaker,
    /// body limit and headers as an ordinary request. Redirects are not followed: the
    /// redirect is the answer judged.
    async fn send_raw(
        &self,
        state: &IdentityState,
        request: Outgoing<'_>,
        built: &crate::variant::VariantRequest,
        login_token: Option<&str>,
    ) -> Execution {
        let _permit = self.semaphore.acquire().await;
        let start = Instant::now();
        if let Some(reason) = self.breaker.open() {
            return Execution::Error(reason);
        }
        let mut map = HeaderMap::new();
        if let Err(e) = fill_headers(&mut map, state, &request, login_token, &request.url) {
            return Execution::Error(e);
        }
        map.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(concat!("rolecall/", env!("CARGO_PKG_VERSION"))),
        );
        let (content_type, payload) = payload(request.body);
        if let Some(content_type) = content_type
            && let Err(e) = append(&mut map, "content-type", content_type)
        {
            return Execution::Error(e);
        }
        let target = built.target();
        let raw = crate::raw_http::RawRequest {
            method: request.method.as_str(),
            target: &target,
            http10: built.http10,
            headers: &map,
            body: payload.as_deref().map(str::as_bytes),
        };
        let mut watch = self.breaker.watch();
        let sent = tokio::select! {
            biased;
            sent = tokio::time::timeout(
                self.timeout,
                crate::raw_http::send(&request.url, self.raw_tls.as_ref(), &raw, request.read_limit),
            ) => sent,
            () = watch.cancelled() => return Execution::Error(self.breaker.cancelled()),
        };
        let origin = request.url.origin().ascii_serialization();
        match sent {
            Err(_) => Execution::Error(format!(
                "no answer from {origin} within the timeout ({}; the target hangs or is too slow)",
                crate::breaker::shown(self.timeout)
            )),
            Ok(Err(e)) => Execution::Error(e),
            Ok(Ok(response)) => {
                self.breaker.answered();
                Execution::Observed(Observed {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                    truncated: response.truncated,
                    redirects: Vec::new(),
                    elapsed: start.elapsed(),
                })
            }
        }
    }

    /// Runs an identity's login flow once; the captured token (or cookie, kept by the
    /// identity's cookie store) is a secret from then on.
    async fn login(
        &self,
        identity: &Identity,
        state: &IdentityState,
        login: &Login,
    ) -> Result<Option<String>, String> {
        let url = self.url(&login.path, &[])?;
        let headers = login
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = Outgoing {
            method: login.method,
            url,
            headers,
            body: login.body.as_ref(),
            read_limit: BODY_LIMIT,
            replace: None,
        };
        let observed = match self.send(state, request, None, false).await {
            Execution::Observed(o) => o,
            Execution::Error(e) => return Err(format!("login of `{}` failed: {e}", identity.name)),
            Execution::Skipped(s) => return Err(s),
        };
        if !(200..300).contains(&observed.status) {
            return Err(format!(
                "login of `{}` failed: {} {} answered {}",
                identity.name, login.method, login.path, observed.status
            ));
        }
        if let Some(cookie) = &login.cookie {
            let set = observed
                .headers
                .iter()
                .filter(|(n, _)| n == "set-cookie")
                .find_map(|(_, v)| {
                    v.split(';')
                        .next()?
                        .strip_prefix(&format!("{cookie}="))
                        .map(str::to_owned)
                });
            match set {
                Some(value) => {
                    self.remember_secret(identity, &value)?;
                    self.remember_secret(identity, &format!("{cookie}={value}"))?;
                }
                None => {
                    return Err(format!(
                        "login of `{}` did not set cookie `{cookie}`",
                        identity.name
                    ));
                }
            }
        }
        let Some(pointer) = &login.token else {
            return Ok(None);
        };
        let json: serde_json::Value = serde_json::from_str(&observed.body)
            .map_err(|_| format!("login of `{}` did not answer JSON", identity.name))?;
        match json.pointer(pointer) {
            Some(serde_json::Value::String(token)) => {
                self.remember_secret(identity, token)?;
                self.remember_secret(identity, &format!("Bearer {token}"))?;
                Ok(Some(token.clone()))
            }
            _ => Err(format!(
                "login of `{}` answered no string at `{pointer}`",
                identity.name
            )),
        }
    }

    /// Makes a captured credential a secret from now on. One too short to be redacted
    /// without masking ordinary text fails the login instead of being sent.
    fn remember_secret(&self, identity: &Identity, value: &str) -> Result<(), String> {
        if value.len() < MIN_SECRET_LEN {
            return Err(format!(
                "login of `{}` captured a credential of {} bytes, too short to keep out of the output (at least {MIN_SECRET_LEN})",
                identity.name,
                value.len()
            ));
        }
        if let Ok(mut secrets) = self.secrets.write() {
            Arc::make_mut(&mut secrets).insert(value);
        }
        Ok(())
    }
}

/// Adds what is configured for the target's origin to `map`: suite and route headers,
/// the identity's headers, a captured token and cookies, then a variant's header.
fn fill_headers(
    map: &mut HeaderMap,
    state: &IdentityState,
    request: &Outgoing<'_>,
    login_token: Option<&str>,
    url: &Url,
) -> Result<(), String> {
    for (name, value) in &request.headers {
        append(map, name, value)?;
    }
    match &state.wire_headers {
        Ok(headers) => {
            for (name, value) in headers {
                map.append(name.clone(), value.clone());
            }
        }
        Err(e) => return Err(e.clone()),
    }
    if let Some(token) = login_token {
        append(map, "authorization", &format!("Bearer {token}"))?;
    }
    if state.has_cookies.load(Ordering::Relaxed)
        && let Some(cookies) = state.jar.cookies(url)
    {
        map.append(reqwest::header::COOKIE, cookies);
    }
    if let Some((name, value)) = &request.replace {
        let (name, value) = wire_header(name, value)?;
        map.insert(name, value);
    }
    Ok(())
}

/// A body's content type and bytes as sent.
fn payload(body: Option<&Body>) -> (Option<&str>, Option<String>) {
    match body {
        None => (None, None),
        Some(Body::Json(json)) => (Some("application/json"), Some(json.to_string())),
        Some(Body::Form(pairs)) => (
            Some("application/x-www-form-urlencoded"),
            Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish(),
            ),
        ),
        Some(Body::Raw { text, content_type }) => (content_type.as_deref(), Some(text.clone())),
    }
}

/// The URL of `path` under the target's base URL: what parsing `base` + `path` gives.
/// `origin` is `base` parsed. A plain path is set on a copy of it rather than parsed
/// with the base: parsing would map the host through IDNA again for every request.
fn request_url(origin: &Url, base: &str, path: &str) -> Result<Url, String> {
    let plain = path.starts_with('/')
        && !path.contains(['?', '#'])
        && origin.query().is_none()
        && origin.fragment().is_none()
        && !origin.cannot_be_a_base();
    if !plain {
        return Url::parse(&format!("{base}{path}"))
            .map_err(|e| format!("invalid request URL: {e}"));
    }
    let mut url = origin.clone();
    match origin.path().trim_end_matches('/') {
        "" => url.set_path(path),
        prefix => url.set_path(&format!("{prefix}{path}")),
    }
    Ok(url)
}

/// Adds a header, or says why it cannot be sent (without echoing its value, which may
/// be a credential): a case must never pass because a credential was silently dropped.
fn append(map: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let (name, value) = wire_header(name, value)?;
    map.append(name, value);
    Ok(())
}

fn wire_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("not sent: `{name}` is not a valid header name"))?;
    let value = HeaderValue::from_str(value).map_err(|_| {
        format!("not sent: the value of header `{name}` is not a valid header value (line break or control character?)")
    })?;
    Ok((header, value))
}

/// Reads at most `limit` bytes of the body, as the client decodes it (reqwest is built
/// without decompression, so a compressed body stays compressed: no bomb can expand),
/// and says what was left out. Reading stops at the limit, so an endless body costs
/// no more than a large one.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(String, Option<Truncated>), reqwest::Error> {
    let announced = response.content_length();
    // Sized by Content-Length when there is one, so a kept body holds no spare room.
    let hint = announced.unwrap_or(0).min(limit as u64) as usize;
    let mut body = Vec::with_capacity(hint);
    let mut received = 0u64;
    let mut stopped = false;
    while let Some(chunk) = response.chunk().await? {
        received += chunk.len() as u64;
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            stopped = true;
            break;
        }
    }
    let kept = body.len() as u64;
    let truncated = match announced {
        Some(size) if size > kept => Some((size, false)),
        Some(_) => None,
        None => stopped.then_some((received, true)),
    }
    .map(|(size, lower_bound)| Truncated {
        body_size: Some(size),
        body_size_is_lower_bound: lower_bound,
        headers_cut: 0,
    });
    // Valid UTF-8 (nearly every body) becomes the string without a copy.
    let text = String::from_utf8(body)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned());
    Ok((text, truncated))
}

/// A one-line reason for a failed exchange that names the likely cause.
fn describe_error(error: &reqwest::Error, base: &str, timeout: Duration) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    let mut detail = String::new();
    while let Some(e) = source {
        detail = e.to_string();
        source = e.source();
    }
    if error.is_timeout() {
        format!(
            "no answer from {base} within the timeout ({}; the target hangs or is too slow)",
            crate::breaker::shown(timeout)
        )
    } else if error.is_connect() {
        format!("cannot connect to {base}: {detail} (is the target running?)")
    } else {
        format!("request to {base} failed: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_are_what_parsing_base_and_path_gives() {
        let bases = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://Api.Example.COM:443/v2/",
            "http://[::1]:9000/prefix//",
            "http://localhost/a%20b",
            "http://h/base?x=1",
        ];
        let paths = [
            "/",
            "/v1/projects/42",
            "/with space/é/%2F/%zz",
            "/a/./b/../c",
            "//double",
            "/back\\slash",
            "/q?x=1&y=2",
            "/frag#f",
            "/tab\tnewline\n",
            "relative",
            "/trailing/",
        ];
        for base in bases {
            let trimmed = base.trim_end_matches('/');
            let origin = Url::parse(base).unwrap();
            for path in paths {
                let expected = Url::parse(&format!("{trimmed}{path}")).map_err(|e| e.to_string());
                let got = request_url(&origin, trimmed, path).map_err(|e| e.to_string());
                assert_eq!(
                    got.as_ref().map(Url::as_str).ok(),
                    expected.as_ref().map(Url::as_str).ok(),
                    "{base} + {path}"
                );
            }
        }
    }
}
