//! The Redis connection for distributed mode (`REDIS_URL`): one multiplexed client that
//! reconnects by itself. Counters and health stores build on it in later modules.

use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy};

use crate::secret::Secret;

/// How long start-up waits for Redis before giving up with a clear error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to Redis and checks it answers.
pub async fn connect(url: &Secret<String>) -> Result<Client, fred::error::Error> {
    let config = Config::from_url(url.expose())?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = CONNECT_TIMEOUT;
            c.internal_command_timeout = CONNECT_TIMEOUT;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build()?;
    let connect = client.init();
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(result) => {
            result?;
        }
        Err(_) => {
            return Err(fred::error::Error::new(
                fred::error::ErrorKind::Timeout,
                "no answer from Redis within 5 s",
            ));
        }
    }
    ping(&client).await?;
    Ok(client)
}

/// Checks that Redis answers, for `/readyz`.
pub async fn ping(client: &Client) -> Result<(), fred::error::Error> {
    let _: String = client.ping(None).await?;
    Ok(())
}
