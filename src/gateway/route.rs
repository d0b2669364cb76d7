//! The routing loop of one request: resolve the model (aliases, fallback chains) to candidate
//! accounts, let the selector order them (health, priority, strategy, stickiness), then try
//! them in turn within the attempt cap. Each outcome feeds the account's shared health; an
//! account at its cap or whose half-open probe someone else holds is skipped, not overloaded.
//! Every attempt and skip is kept in the usage record's attempt log.

use std::collections::VecDeque;

use http::{HeaderName, HeaderValue, header};
use serde::Serialize;
use serde_json::{Value, json};

use super::attempt::Answer;
use super::body::{estimate_tokens, parse_body};
use super::budget::{self, Amounts, Limit, Reservation};
use super::catalog::{Candidate, GroupRouting};
use super::engine::{
    Gateway, JSON, ProxyBody, ProxyRequest, ProxyResponse, database_unavailable, usable_models,
    usable_text,
};
use super::error::{ErrorKind, GatewayError};
use super::health::{HealthEvent, OutReason};
use super::keys::MemberKey;
use super::outcome::HeldLease;
use super::probe::ProbeClaim;
use super::relay::{Conversion, Relay, StreamEnd};
use super::response_pins;
use super::select::{self, BudgetLeft, Planned, session_key};
use super::translate;
use super::upstream::{AttemptFailure, Endpoint};
use super::usage::Usage;
use super::usage_guard::UsageGuard;
use crate::counters::{CapHit, Charge};
use crate::db::now_ms;
use crate::model::RoutingStrategy;

/// Which account served the answer (its id; its name when it fits in a header), how many
/// attempts it took, and the model sent upstream when an alias or fallback changed it.
const ACCOUNT_ID: HeaderName = HeaderName::from_static("x-aicarpool-account-id");
const ACCOUNT: HeaderName = HeaderName::from_static("x-aicarpool-account");
const ATTEMPTS: HeaderName = HeaderName::from_static("x-aicarpool-attempts");
const MODEL: HeaderName = HeaderName::from_static("x-aicarpool-model");
/// Tells nginx in front of the gateway not to buffer a stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The longest query string passed on to the provider.
const MAX_QUERY_BYTES: usize = 4096;

/// Refuses a query string too long to pass on: past a URL's limits it would fail at the
/// provider, and not as the account's fault.
pub(super) fn check_query(query: Option<&str>) -> Result<(), GatewayError> {
    match query {
        Some(query) if query.len() > MAX_QUERY_BYTES => Err(GatewayError::invalid(
            "query",
            format!(
                "the query string is {} bytes; the gateway passes at most {MAX_QUERY_BYTES} on (the APIs take short flags such as `?beta=true`)",
                query.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// One line of the attempt log.
#[derive(Debug, Serialize)]
struct LogEntry {
    account_id: i64,
    outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
}

/// The attempt log as stored: JSON, written into a buffer sized once (one allocation per request
/// instead of one per doubling).
fn log_json(log: &[LogEntry]) -> Option<String> {
    let mut out = Vec::with_capacity(2 + 72 * log.len());
    serde_json::to_writer(&mut out, log).ok()?;
    String::from_utf8(out).ok()
}

impl Gateway {
    pub(super) async fn serve(
        &self,
        member: &MemberKey,
        req: &ProxyRequest,
        guard: &mut UsageGuard,
    ) -> Result<ProxyResponse, GatewayError> {
        check_query(req.query.as_deref())?;
        let body = parse_body(req.endpoint, &req.body)?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        guard.row_mut().model_requested = model.clone();
        let stream = req.endpoint != Endpoint::CountTokens
            && body.get("stream").and_then(Value::as_bool) == Some(true);
        guard.row_mut().streamed = stream;

        let catalog = self.catalog().await.map_err(|e| database_unavailable(&e))?;
        let group = member.group_id;
        let available = || usable_text(&usable_models(&catalog, member));
        if !member.allows(&model) {
            return Err(GatewayError::new(
                ErrorKind::NotFound,
                "model_not_allowed",
                format!(
                    "the model `{model}` is not allowed for this key; {}",
                    available()
                ),
            ));
        }
        let mut candidates = catalog.candidates(group, &model);
        if candidates.is_empty() {
            return Err(GatewayError::new(
                ErrorKind::NotFound,
                "model_not_found",
                format!("the model `{model}` is not available; {}", available()),
            ));
        }
        candidates.retain(|c| req.endpoint.upstream_wire(c.account.provider).is_some());
        if candidates.is_empty() {
            // Only token counting lands here: no account of this model can count upstream.
            // The estimate stands in for a translated request, so it gets the same checks.
            translate::messages_to_chat_request(&body)
                .map_err(|e| GatewayError::invalid(e.param, e.message))?;
            guard.finish_ok(200, Usage::default(), None);
            return Ok(ProxyResponse::json(
                200,
                &json!({"input_tokens": estimate_tokens(&body)}),
            ));
        }

        let previous = response_pins::previous(req.endpoint, &body);
        response_pins::keep_readers(req.endpoint, &body, &model, &mut candidates)?;

        let routing = catalog.group(group);
        let strategy = routing.map(|g| g.strategy).unwrap_or_default();
        // The worst case is only reserved against limits: a group without any skips working
        // it out (a walk over every string of the request).
        let estimate = if routing.is_some_and(|g| !g.limits.is_empty()) {
            budget::estimate(&body, req.endpoint, &candidates, &catalog)
        } else {
            Amounts::default()
        };
        // The key, member and group limits are reserved together with the first account tried
        // (one atomic call, one Redis round trip), not on their own before routing.
        let request_limits: Vec<Limit> = match routing {
            Some(g) if req.endpoint != Endpoint::CountTokens => g
                .limits
                .iter()
                .filter(|l| l.applies_to(member))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        if !request_limits.is_empty() {
            self.seed_limits(&request_limits, now_ms()).await;
        }
        let mut request_hold = (!request_limits.is_empty())
            .then(|| Reservation::new(&request_limits, &estimate, now_ms()));
        let now = now_ms();
        // A pin only matters where there is a choice: with one account to try, the key is not
        // worked out (it hashes the system prompt and the first message) and no pin is looked
        // up or stored (a Redis round trip each with `REDIS_URL`).
        // A continued response goes where it is stored (its pin is not a session's).
        let choice = req.endpoint != Endpoint::CountTokens && candidates.len() > 1;
        let sticky = (choice && previous.is_none())
            .then(|| session_key(group, &model, &body))
            .flatten();
        let pinned = match (previous, &sticky) {
            (Some(response), _) if choice => {
                let key = response_pins::key(group, response);
                self.counters.sticky_get(&key, now).await
            }
            (None, Some(key)) => self.counters.sticky_get(key, now).await,
            _ => None,
        };
        // Only the account that stored a response can read it: with that account known, no
        // other is tried (it would only answer "not found", a 400 that tells the caller their
        // conversation is gone). When the account is out, the caller gets a 5xx to retry.
        if let (Some(_), Some(holder)) = (previous, pinned)
            && candidates.iter().any(|c| c.account.id == holder)
        {
            candidates.retain(|c| c.account.id == holder);
        }
        // Where the answer is stored upstream, its id is pinned to the account serving it.
        let pin_in = response_pins::stored(req.endpoint, &body).then_some(group);
        let left = if strategy == RoutingStrategy::MostBudget {
            self.budget_left(routing, &candidates, now).await
        } else {
            BudgetLeft::new()
        };
        let mut plan = self.selector.plan(
            group,
            strategy,
            candidates,
            &self.counters,
            pinned,
            &left,
            now,
        );
        let mut log: Vec<LogEntry> = plan
            .skipped
            .iter()
            .map(|(c, reason)| LogEntry {
                account_id: c.account.id,
                outcome: reason.class().to_owned(),
                status: None,
                ms: None,
            })
            .collect();

        let mut last: Option<AttemptFailure> = None;
        let mut attempts = 0;
        let mut cap_hits = 0;
        let mut budget_hits = 0;
        // Accounts passed over for their caps or budget, in words for the error.
        let mut passed_over: Vec<String> = Vec::new();
        let mut queue: VecDeque<Planned> = std::mem::take(&mut plan.ordered).into();
        let mut last_resort_taken = false;
        loop {
            let Some(planned) = queue.pop_front() else {
                // Every usable account was passed over for its caps or budget and none was
                // asked: the accounts out only for an open circuit get their last-resort
                // probe, as when none was usable at all.
                if attempts == 0 && !last_resort_taken && cap_hits + budget_hits > 0 {
                    last_resort_taken = true;
                    queue.extend(select::last_resort(
                        &mut plan.skipped,
                        &self.counters,
                        now_ms(),
                    ));
                    if !queue.is_empty() {
                        continue;
                    }
                }
                break;
            };
            if attempts == self.config().max_attempts {
                break;
            }
            let candidate = &planned.candidate;
            let id = candidate.account.id;
            let probe = if planned.needs_probe {
                let claim =
                    ProbeClaim::take(&self.counters, self.policy, id, planned.last_resort).await;
                if claim.is_none() {
                    let reason = OutReason::Probing {
                        until: self.counters.health(id).probe_until.max(now_ms()),
                    };
                    log.push(LogEntry {
                        account_id: id,
                        outcome: reason.class().into(),
                        status: None,
                        ms: None,
                    });
                    plan.skipped.push((candidate.clone(), reason));
                    continue;
                }
                claim
            } else {
                None
            };
            let lease = if candidate.account.caps.any() {
                match self
                    .counters
                    .acquire(id, candidate.account.caps, now_ms())
                    .await
                {
                    Ok(lease) => Some(lease),
                    Err(hit) => {
                        cap_hits += 1;
                        let (outcome, words) = match hit {
                            CapHit::Concurrency => {
                                ("skipped_concurrency_cap", "at its concurrency cap")
                            }
                            CapHit::Rpm => ("skipped_rpm_cap", "at its requests-per-minute cap"),
                            CapHit::Tpm => ("skipped_tpm_cap", "at its tokens-per-minute cap"),
                        };
                        passed_over.push(format!("{}: {words}", candidate.account.name));
                        log.push(LogEntry {
                            account_id: id,
                            outcome: outcome.into(),
                            status: None,
                            ms: None,
                        });
                        continue;
                    }
                }
            } else {
                None
            };
            let mut lease = HeldLease::new(&self.counters, lease);
            let account_limits: Vec<Limit> = routing
                .map(|g| g.account_limits(id).cloned().collect())
                .unwrap_or_default();
            if req.endpoint != Endpoint::CountTokens && !account_limits.is_empty() {
                self.seed_limits(&account_limits, now_ms()).await;
            }
            let account_hold = (req.endpoint != Endpoint::CountTokens
                && !account_limits.is_empty())
            .then(|| Reservation::new(&account_limits, &estimate, now_ms()));
            let pending = request_hold.take();
            let request_charges = pending.as_ref().map_or(0, |(_, c)| c.len());
            let charges: Vec<Charge> = pending
                .iter()
                .chain(&account_hold)
                .flat_map(|(_, c)| c.iter().cloned())
                .collect();
            if let Err(refusal) = self.counters.reserve(&charges).await {
                if let Some(lease) = lease.take() {
                    self.counters.release(&lease, 0, now_ms()).await;
                }
                // A request limit refused (nothing was held): the request ends here. An account
                // limit refused: the request's own limits are still to be held, alone.
                let request_refusal = if refusal.index < request_charges {
                    Some(refusal)
                } else if let Some((held, request_only)) = pending {
                    let alone = self.counters.reserve(&request_only).await;
                    if alone.is_ok() {
                        guard.held_mut().request = Some(held);
                    }
                    alone.err()
                } else {
                    None
                };
                if let Some(refusal) = request_refusal {
                    let limit = &request_limits[refusal.index];
                    return Err(limit.refusal(refusal.used, limit.amount(&estimate), now_ms()));
                }
                budget_hits += 1;
                passed_over.push(format!(
                    "{}: its budget for this group is used up",
                    candidate.account.name
                ));
                log.push(LogEntry {
                    account_id: id,
                    outcome: "skipped_account_budget".into(),
                    status: None,
                    ms: None,
                });
                continue;
            }
            if let Some((held, _)) = pending {
                guard.held_mut().request = Some(held);
            }
            if let Some((held, _)) = account_hold {
                guard.held_mut().account = Some((id, held));
            }
            attempts += 1;
            guard.attempt(candidate);
            let result = self.attempt(req, &body, candidate, stream).await;
            match result {
                Ok(done) => {
                    let ttfb_ms = done.ttfb.as_secs_f64() * 1000.0;
                    self.selector.observe(id, true, Some(ttfb_ms));
                    if let Some(probe) = probe {
                        // The account answers: the probe closes its circuit now, not when a
                        // long stream ends (a stream that dies later counts as a failure).
                        self.counters
                            .report(id, HealthEvent::Success, now_ms(), &self.policy)
                            .await;
                        probe.told();
                    }
                    log.push(LogEntry {
                        account_id: id,
                        outcome: "ok".into(),
                        status: Some(200),
                        ms: Some(done.ttfb.as_millis().try_into().unwrap_or(u64::MAX)),
                    });
                    if let Some(key) = &sticky
                        && pinned != Some(id)
                    {
                        self.counters
                            .sticky_set(key, id, self.config().sticky_ttl, now_ms())
                            .await;
                    }
                    guard.row_mut().model_served = Some(candidate.upstream_model.clone());
                    guard.set_price(catalog.price(&candidate.upstream_model));
                    guard.row_mut().attempt_log = log_json(&log);
                    let mut response = match done.answer {
                        Answer::Json {
                            body: bytes,
                            usage,
                            response_id,
                        } => {
                            self.settle_account(id, lease.take(), StreamEnd::Complete, usage)
                                .await;
                            if let (Some(group), Some(response)) = (pin_in, &response_id) {
                                response_pins::pin(&self.counters, group, response, id).await;
                            }
                            guard.finish_ok(200, usage, None);
                            ProxyResponse {
                                status: 200,
                                headers: vec![(
                                    header::CONTENT_TYPE,
                                    HeaderValue::from_static(JSON),
                                )],
                                body: ProxyBody::Json(bytes),
                            }
                        }
                        Answer::Stream { first, rest } => {
                            let include_usage = body
                                .pointer("/stream_options/include_usage")
                                .and_then(Value::as_bool)
                                == Some(true);
                            let conversion = Conversion::new(
                                done.wire,
                                req.endpoint.wire(),
                                include_usage,
                                &body,
                                &candidate.upstream_model,
                            );
                            let relay = Relay::new(
                                conversion,
                                first,
                                rest,
                                guard.take(),
                                Some(self.on_stream_end(id, lease.take())),
                            )
                            .on_response_id(pin_in.map(|group| self.pin_response(group, id)))
                            .estimating_input_of(req.body.clone())
                            .capping_output_at(budget::answer_cap(&body, req.endpoint, candidate));
                            ProxyResponse {
                                status: 200,
                                headers: vec![
                                    (
                                        header::CONTENT_TYPE,
                                        HeaderValue::from_static(
                                            "text/event-stream; charset=utf-8",
                                        ),
                                    ),
                                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                                    (X_ACCEL_BUFFERING, HeaderValue::from_static("no")),
                                ],
                                body: ProxyBody::Stream(relay.into_stream()),
                            }
                        }
                    };
                    response.headers.push((ACCOUNT_ID, HeaderValue::from(id)));
                    if let Some(name) = &candidate.account.name_header {
                        response.headers.push((ACCOUNT, name.clone()));
                    }
                    response
                        .headers
                        .push((ATTEMPTS, HeaderValue::from(attempts)));
                    if candidate.upstream_model != model
                        && let Ok(served) = HeaderValue::from_str(&candidate.upstream_model)
                    {
                        response.headers.push((MODEL, served));
                    }
                    return Ok(response);
                }
                Err(failure) => {
                    if let Some(lease) = lease.take() {
                        self.counters.release(&lease, 0, now_ms()).await;
                    }
                    // The account's budget hold goes back at once: this account served nothing.
                    if let Some((_, held)) = guard.held_mut().account.take() {
                        self.counters
                            .settle(&held.deltas(&Amounts::default()))
                            .await;
                    }
                    self.note_failure(candidate, &failure).await;
                    if let Some(probe) = probe {
                        probe.failed(failure.event);
                    }
                    log.push(LogEntry {
                        account_id: id,
                        outcome: failure.error.class.to_owned(),
                        status: failure.status,
                        ms: None,
                    });
                    let retryable = failure.retryable;
                    last = Some(failure);
                    if !retryable {
                        break;
                    }
                }
            }
        }
        guard.row_mut().attempt_log = log_json(&log);
        if let Some(failure) = last {
            return Err(failure.error);
        }
        if budget_hits > 0 && plan.skipped.is_empty() && cap_hits == 0 {
            return Err(GatewayError::new(
                ErrorKind::RateLimit,
                "budget_exceeded",
                "budget reached: every account serving this model has used up its budget for this group; a group owner or admin can raise the account limits on the group page",
            ));
        }
        Err(self.nothing_available(&plan.skipped, cap_hits + budget_hits, &passed_over))
    }

    /// The share of its budget each candidate account has left in this group: the tightest of
    /// its account limits, counting holds of requests in flight (one read of the counters).
    async fn budget_left(
        &self,
        routing: Option<&GroupRouting>,
        candidates: &[Candidate],
        now: i64,
    ) -> BudgetLeft {
        let mut left = BudgetLeft::new();
        let Some(routing) = routing else {
            return left;
        };
        let mut caps: Vec<(i64, i64)> = Vec::new();
        let mut keys = Vec::new();
        let mut limits = Vec::new();
        for c in candidates {
            let id = c.account.id;
            for limit in routing.account_limits(id) {
                caps.push((id, limit.cap));
                keys.push(limit.window_at(now).0);
                limits.push(limit.clone());
            }
        }
        if keys.is_empty() {
            return left;
        }
        self.seed_limits(&limits, now).await;
        let used = self.counters.peek(&keys).await;
        for ((id, cap), used) in caps.into_iter().zip(used) {
            let share = if cap > 0 {
                (cap - used).max(0) as f64 / cap as f64
            } else {
                0.0
            };
            let entry = left.entry(id).or_insert(1.0);
            *entry = entry.min(share);
        }
        left
    }

    /// The error when no account could even be tried.
    fn nothing_available(
        &self,
        skipped: &[(Candidate, OutReason)],
        cap_hits: usize,
        passed_over: &[String],
    ) -> GatewayError {
        let now = now_ms();
        if cap_hits > 0 && skipped.is_empty() {
            return GatewayError::new(
                ErrorKind::RateLimit,
                "accounts_at_cap",
                "every account serving this model is at its concurrency or rate cap; retry in a moment",
            )
            .retry_after(1);
        }
        let reasons: Vec<String> = skipped
            .iter()
            .map(|(c, r)| format!("{}: {}", c.account.name, r.words(now)))
            .chain(passed_over.iter().cloned())
            .collect();
        let soonest = skipped
            .iter()
            .filter_map(|(_, r)| match r {
                OutReason::CircuitOpen { until }
                | OutReason::Cooldown { until }
                | OutReason::Probing { until } => Some(*until),
                OutReason::AuthFailed { .. } => None,
            })
            .min();
        let all_cooling = !skipped.is_empty()
            && skipped
                .iter()
                .all(|(_, r)| matches!(r, OutReason::Cooldown { .. }));
        let message = format!(
            "no account can serve this model right now ({})",
            reasons.join("; ")
        );
        let error = if all_cooling {
            GatewayError::new(ErrorKind::RateLimit, "upstream_rate_limited", message)
        } else {
            GatewayError::new(ErrorKind::Unavailable, "no_healthy_account", message)
        };
        match soonest {
            Some(until) => {
                error.retry_after(u64::try_from((until - now).max(1000) / 1000).unwrap_or(1))
            }
            None => error,
        }
    }
}
