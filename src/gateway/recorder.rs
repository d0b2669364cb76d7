//! The usage writer: proxied requests hand their record to a bounded queue and move on; one
//! background task writes them in batches (one `INSERT` per batch, at most every 100 ms, so a
//! request never wakes it but the first after a pause) and marks the keys used.
//! At shutdown, after the server has drained its connections, [`Recorder::close`] writes
//! everything still queued before the process exits. [`Recorder::flush`] waits until what is
//! queued now is in the database (budget counters seeded from the records need it there).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::db::usage::UsageRow;
use crate::db::{Db, keys, now_ms, usage};

/// Records waiting in memory at most; beyond it producers wait for the writer.
const QUEUE: usize = 50_000;
/// Records per `INSERT`.
const BATCH: usize = 500;
/// A partial batch is written after this long.
const LINGER: Duration = Duration::from_millis(100);

/// The handle requests record through.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::Sender<UsageRow>,
    stop: Arc<Notify>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Set when the server ends the requests still in flight at shutdown.
    cutting_off: AtomicBool,
    /// Records handed to [`Recorder::record`] so far.
    queued: AtomicU64,
    /// Records the writer is done with (written, or given up on), counted like `queued`.
    done: Arc<watch::Sender<u64>>,
    /// Asks the writer to write what it holds now instead of lingering.
    flush_now: Arc<Notify>,
}

impl Recorder {
    /// Starts the writer task (needs a tokio runtime).
    pub fn start(db: Db) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(Notify::new());
        let done = Arc::new(watch::Sender::new(0));
        let flush_now = Arc::new(Notify::new());
        let writer = Writer {
            db,
            done: done.clone(),
        };
        let worker = tokio::spawn(write_loop(writer, rx, stop.clone(), flush_now.clone()));
        Recorder {
            tx,
            stop,
            worker: Mutex::new(Some(worker)),
            cutting_off: AtomicBool::new(false),
            queued: AtomicU64::new(0),
            done,
            flush_now,
        }
    }

    /// From now on a request that ends unfinished was cut off by the server stopping, not by
    /// its client: its record says `server_shutdown` (503) instead of `client_closed` (499).
    pub fn cut_off_in_flight(&self) {
        self.cutting_off.store(true, Ordering::Relaxed);
    }

    /// Whether [`Recorder::cut_off_in_flight`] was called.
    pub fn cutting_off(&self) -> bool {
        self.cutting_off.load(Ordering::Relaxed)
    }

    /// Queues a record. Never blocks the caller: when the queue is full, a task waits for room.
    pub fn record(&self, row: UsageRow) {
        self.queued.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(row) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(row)) => {
                let tx = self.tx.clone();
                let done = self.done.clone();
                tokio::spawn(async move {
                    if tx.send(row).await.is_err() {
                        tracing::error!("usage record lost: the writer has stopped");
                        done.send_modify(|done| *done += 1);
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(row)) => {
                tracing::error!(request_id = %row.request_id, "usage record lost: the writer has stopped");
                self.done.send_modify(|done| *done += 1);
            }
        }
    }

    /// Waits until every record queued before this call is in the database (or the writer
    /// gave up on it), asking the writer not to linger; at most `wait` (a database that is
    /// down keeps the writer retrying). Whether it got there.
    pub async fn flush(&self, wait: Duration) -> bool {
        let target = self.queued.load(Ordering::Acquire);
        let mut done = self.done.subscribe();
        if *done.borrow() >= target {
            return true;
        }
        self.flush_now.notify_one();
        tokio::time::timeout(wait, done.wait_for(|d| *d >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Writes everything queued and stops the writer.
    pub async fn close(&self) {
        self.stop.notify_one();
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker
            && let Err(e) = worker.await
        {
            tracing::error!("usage writer failed: {e}");
        }
    }
}

/// The writer's database and its count of records done with.
struct Writer {
    db: Db,
    done: Arc<watch::Sender<u64>>,
}

async fn write_loop(
    writer: Writer,
    mut rx: mpsc::Receiver<UsageRow>,
    stop: Arc<Notify>,
    flush_now: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let stopping = tokio::select! {
            received = rx.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break;
                }
                // Let a burst queue up before writing. The records wait in the channel, not in
                // wake-ups of this task: waiting on the channel here would wake it once per
                // request, mostly on the other worker thread, a thread hop each request paid.
                let stopping = batch.len() < BATCH
                    && tokio::select! {
                        () = tokio::time::sleep(LINGER) => false,
                        () = flush_now.notified() => false,
                        () = stop.notified() => true,
                    };
                loop {
                    while batch.len() < BATCH
                        && let Ok(row) = rx.try_recv()
                    {
                        batch.push(row);
                    }
                    let full = batch.len() == BATCH;
                    writer.write(&mut batch).await;
                    if !full {
                        break;
                    }
                }
                stopping
            }
            () = stop.notified() => true,
        };
        if stopping {
            rx.close();
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                writer.write(&mut batch).await;
            }
            break;
        }
    }
    writer.write(&mut batch).await;
}

impl Writer {
    /// Writes a batch, retrying while the database is unavailable so no record is dropped.
    async fn write(&self, batch: &mut Vec<UsageRow>) {
        if batch.is_empty() {
            return;
        }
        let db = &self.db;
        let mut delay = Duration::from_millis(100);
        for attempt in 1.. {
            match usage::insert_batch(db, batch).await {
                Ok(()) => break,
                Err(e) if attempt < 20 => {
                    tracing::warn!(
                        records = batch.len(),
                        "usage batch not written yet ({e}); retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(
                        records = batch.len(),
                        "usage batch lost after {attempt} attempts: {e}"
                    );
                    break;
                }
            }
        }
        let used: BTreeSet<i64> = batch.iter().map(|r| r.key_id).collect();
        let used: Vec<i64> = used.into_iter().collect();
        if let Err(e) = keys::touch(db, &used, now_ms()).await {
            tracing::warn!("could not mark keys used: {e}");
        }
        let written = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        self.done.send_modify(|done| *done += written);
        batch.clear();
    }
}
