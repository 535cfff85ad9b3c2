//! Where a KMS conversation's time goes, measured: an SDK interceptor that counts each KMS call
//! by operation and adds up the time during which at least one call is in flight (from the SDK
//! taking the request to its result, retries included). A command's wall time less that is the
//! time keyrite spends on its own work (reading and checking the bundle, hashing, writing files)
//! with no KMS call waiting. Off unless asked: [`measure`] starts a clock that every client
//! [`super::connect`] makes from then on reports to (the benchmarks do this).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_sdk_kms::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    busy_since: Option<Instant>,
    busy: Duration,
    calls: BTreeMap<String, u64>,
}

/// A clock the KMS clients made while it is active report to.
#[derive(Debug, Clone, Default)]
pub struct KmsClock(Arc<Mutex<State>>);

/// What a clock measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    /// KMS calls by operation (DescribeKey, GetParametersForImport, …).
    pub calls: BTreeMap<String, u64>,
    /// Time with at least one KMS call in flight.
    pub in_kms: Duration,
}

impl ClockReading {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

static ACTIVE: Mutex<Option<KmsClock>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts a new clock; the clients made from now on report to it (not those made before).
pub fn measure() -> KmsClock {
    let clock = KmsClock::default();
    *lock(&ACTIVE) = Some(clock.clone());
    clock
}

/// Stops handing the clock to new clients.
pub fn stop() {
    *lock(&ACTIVE) = None;
}

/// The interceptor for a new client, when a clock is active.
pub(crate) fn interceptor() -> Option<impl Intercept + 'static> {
    lock(&ACTIVE).clone().map(ClockInterceptor)
}

impl KmsClock {
    /// The calls so far and the time in them (a call still in flight counts up to now).
    pub fn reading(&self) -> ClockReading {
        let s = lock(&self.0);
        let ongoing = s.busy_since.map_or(Duration::ZERO, |t| t.elapsed());
        ClockReading {
            calls: s.calls.clone(),
            in_kms: s.busy + ongoing,
        }
    }
}

#[derive(Debug)]
struct ClockInterceptor(KmsClock);

impl Intercept for ClockInterceptor {
    fn name(&self) -> &'static str {
        "KmsClock"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut s = lock(&(self.0).0);
        if s.in_flight == 0 {
            s.busy_since = Some(Instant::now());
        }
        s.in_flight += 1;
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The operation's name is in the bag by now (a client's interceptors see the request
        // before the operation's configuration is applied).
        let op = cfg
            .load::<Metadata>()
            .map_or_else(|| "unknown".to_string(), |m| m.name().to_string());
        let mut s = lock(&(self.0).0);
        *s.calls.entry(op).or_default() += 1;
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0
            && let Some(t) = s.busy_since.take()
        {
            s.busy += t.elapsed();
        }
        Ok(())
    }
}
