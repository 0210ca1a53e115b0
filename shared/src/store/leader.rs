//! One leader among several processes for work that must run exactly once at a time (the
//! Matrix sync loop). On PostgreSQL a session-level advisory lock held on a connection of its
//! own: when the process dies its connection drops and PostgreSQL frees the lock, so another
//! process takes over. SQLite serves one process only, which always leads.

use sea_orm::DatabaseBackend;
use sea_orm::sqlx::{self, PgConnection, pool::PoolConnection, postgres::Postgres};

use crate::error::{Error, Result};
use crate::store::Store;

/// Held while leading; dropping it (or losing the connection) ends the leadership.
#[derive(Debug)]
pub struct Leadership {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

/// A stable 64-bit lock key for a name (FNV-1a), so every process computes the same one.
pub fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Tries once to become the leader for `name`; `None` when another process leads.
pub async fn try_lead(store: &Store, name: &str) -> Result<Option<Leadership>> {
    let key = lock_key(name);
    if store.backend() != DatabaseBackend::Postgres {
        return Ok(Some(Leadership { conn: None, key }));
    }
    let pool = store.db().get_postgres_connection_pool();
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    if !locked {
        return Ok(None);
    }
    Ok(Some(Leadership {
        conn: Some(conn),
        key,
    }))
}

impl Leadership {
    /// True while the lock's connection still answers (a restarted database frees the lock).
    pub async fn still_held(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        let conn: &mut PgConnection = conn;
        // This connection holds no other advisory lock. A connection that does not answer in
        // time (half-open after a network fault) counts as lost.
        let held = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::query_as::<_, (bool,)>(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                 AND pid = pg_backend_pid() AND granted)",
            )
            .fetch_one(conn),
        )
        .await;
        matches!(held, Ok(Ok((true,))))
    }

    /// Gives the lock up now (also happens when the process or its connection ends).
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Maybe still locked: never hand this connection to anyone else.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // A connection that still holds the lock must not go back into the pool.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

fn db_error(e: sqlx::Error) -> Error {
    Error::Database(sea_orm::DbErr::Custom(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(lock_key("matrix-sync"), lock_key("matrix-sync"));
        assert_ne!(lock_key("matrix-sync"), lock_key("other"));
    }
}
