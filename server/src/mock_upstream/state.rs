//! The mock's shared state: options, active faults, statistics, recorded requests, the prompt
//! cache, and the release signal for held streams.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use super::MockOptions;
use super::faults::{Effects, Fault, MockRoute};

/// Counters of the API requests the mock has seen since it started or was last reset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockStats {
    /// API requests (control routes not counted).
    pub total: u64,
    /// API requests per route, keyed by [`MockRoute::name`].
    pub by_route: BTreeMap<String, u64>,
    /// Requests being answered now (a stream counts until its last byte or cut).
    pub in_flight: u64,
    /// The most requests in flight at once.
    pub max_in_flight: u64,
    /// Streams waiting for a release now.
    pub held: u64,
}

/// One API request as the mock received it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The route.
    pub route: MockRoute,
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string without `?`, if any.
    pub query: Option<String>,
    /// Headers, names lower-case; a repeated header's values joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The JSON body; `null` when empty, a string when it was not JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// State shared by the handle and every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub options: MockOptions,
    faults: Mutex<Vec<Fault>>,
    counts: Mutex<BTreeMap<String, u64>>,
    records: Mutex<VecDeque<RecordedRequest>>,
    seen_systems: Mutex<HashSet<String>>,
    release: watch::Sender<u64>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    held: AtomicU64,
    next_id: AtomicU64,
    stored_responses: Mutex<HashMap<String, StoredResponse>>,
}

/// A response the mock stored: what `GET /v1/responses/{id}` and its `input_items` show.
#[derive(Clone, Debug)]
pub(crate) struct StoredResponse {
    /// The finished response object.
    pub response: Value,
    /// The request's input as items.
    pub input_items: Vec<Value>,
}

/// Stored Responses ids kept at most; then the set starts over (the mock is for tests and
/// trials, not for month-long conversations).
const STORED_RESPONSES_MAX: usize = 100_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the mock down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(options: MockOptions) -> Shared {
        Shared {
            options,
            faults: Mutex::default(),
            counts: Mutex::default(),
            records: Mutex::default(),
            seen_systems: Mutex::default(),
            release: watch::Sender::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            held: AtomicU64::new(0),
            // Ids are unique across mocks as a provider's are: a response id one mock made
            // is unknown to another.
            next_id: AtomicU64::new(u64::from(uuid::Uuid::new_v4().as_fields().0) << 24),
            stored_responses: Mutex::default(),
        }
    }

    pub(crate) fn add_fault(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        lock(&self.faults).clone()
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub(crate) fn take_effects(&self, route: MockRoute) -> Effects {
        Effects::take(&mut lock(&self.faults), route)
    }

    /// Counts and records a request and marks it in flight until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>, request: RecordedRequest) -> InFlight {
        *lock(&self.counts)
            .entry(request.route.name().to_owned())
            .or_default() += 1;
        {
            let mut records = lock(&self.records);
            if records.len() >= self.options.record_limit.max(1) {
                records.pop_front();
            }
            records.push_back(request);
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight {
            shared: Arc::clone(self),
        }
    }

    pub(crate) fn stats(&self) -> MockStats {
        let by_route = lock(&self.counts).clone();
        MockStats {
            total: by_route.values().sum(),
            by_route,
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            held: self.held.load(Ordering::SeqCst),
        }
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.records).iter().cloned().collect()
    }

    /// Clears faults, statistics, records and the prompt cache.
    pub(crate) fn reset(&self) {
        self.clear_faults();
        lock(&self.counts).clear();
        lock(&self.records).clear();
        lock(&self.seen_systems).clear();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Whether `system` was seen before by a caching request; remembers it.
    pub(crate) fn cache_hit(&self, system: &str) -> bool {
        !lock(&self.seen_systems).insert(system.to_owned())
    }

    /// A fresh number for response and call ids.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Keeps a Responses answer for later `previous_response_id` references and retrieval.
    pub(crate) fn store_response(&self, id: &str, stored: StoredResponse) {
        let mut responses = lock(&self.stored_responses);
        if responses.len() >= STORED_RESPONSES_MAX {
            responses.clear();
        }
        responses.insert(id.to_owned(), stored);
    }

    /// Whether this mock made and stored the response `id`.
    pub(crate) fn has_response(&self, id: &str) -> bool {
        lock(&self.stored_responses).contains_key(id)
    }

    /// The stored response `id`.
    pub(crate) fn stored_response(&self, id: &str) -> Option<StoredResponse> {
        lock(&self.stored_responses).get(id).cloned()
    }

    /// Forgets the stored response `id`; whether it was there.
    pub(crate) fn delete_response(&self, id: &str) -> bool {
        lock(&self.stored_responses).remove(id).is_some()
    }

    /// Lets every stream held now go on.
    pub(crate) fn release(&self) {
        self.release.send_modify(|generation| *generation += 1);
    }

    /// Waits for a release that comes after this call started.
    pub(crate) fn wait_for_release(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.release.subscribe();
        rx.mark_unchanged();
        async move {
            // An error means the mock is gone, which ends the hold as well.
            let _ = rx.changed().await;
        }
    }

    pub(crate) fn held(&self) -> &AtomicU64 {
        &self.held
    }
}

/// Marks a request in flight while it lives.
#[derive(Debug)]
pub(crate) struct InFlight {
    shared: Arc<Shared>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
