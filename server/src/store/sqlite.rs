//! Rows in SQLite: one `rows` table keyed by (table, id) holding the row JSON in Web API shape, the row version
//! (one global, monotonically increasing counter: etags and change tracking), and the owner and owning business
//! unit as indexed columns for read access. Deletes leave a tombstone for change tracking.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

/// A row as stored.
#[derive(Debug, Clone)]
pub struct StoredRow {
    /// Primary key (lower-case GUID).
    pub id: String,
    /// The row in Web API shape (no `@odata.etag`).
    pub data: Map<String, Value>,
    /// Version of the last write.
    pub version: i64,
    /// Owner id (user or team), for user-owned tables.
    pub owner: Option<String>,
    /// Owning business unit id.
    pub business_unit: Option<String>,
}

/// A row as stored, its data still JSON text (collection pages write it without decoding it into a map).
#[derive(Debug, Clone)]
pub struct StoredText {
    /// Primary key (lower-case GUID).
    pub id: String,
    /// The row in Web API shape (no `@odata.etag`), as stored: JSON written by `serde_json`.
    pub text: String,
    /// Version of the last write.
    pub version: i64,
}

/// Which rows of a table a reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every row (organisation depth, or a table without owners).
    All,
    /// Rows owned by one of these principals (user depth: the user and the user's teams).
    Owners(Vec<String>),
    /// Rows of one of these business units (business-unit depth).
    BusinessUnits(Vec<String>),
    /// Nothing.
    None,
}

impl Access {
    fn sql(&self) -> (String, Vec<String>) {
        match self {
            Access::All => (String::new(), Vec::new()),
            Access::None => (" AND 0".into(), Vec::new()),
            Access::Owners(ids) => (format!(" AND owner IN ({})", placeholders(ids.len())), ids.clone()),
            Access::BusinessUnits(ids) => (format!(" AND bu IN ({})", placeholders(ids.len())), ids.clone()),
        }
    }

    /// Whether a row with this owner and business unit is visible.
    pub fn allows(&self, owner: Option<&str>, bu: Option<&str>) -> bool {
        match self {
            Access::All => true,
            Access::None => false,
            Access::Owners(ids) => owner.is_some_and(|o| ids.iter().any(|i| i == o)),
            Access::BusinessUnits(ids) => bu.is_some_and(|b| ids.iter().any(|i| i == b)),
        }
    }
}

fn placeholders(n: usize) -> String {
    if n == 0 {
        return "NULL".into();
    }
    vec!["?"; n].join(",")
}

/// A row for [`Db::put_bulk`]: id, data, owner, owning business unit.
pub type BulkRow = (String, Map<String, Value>, Option<String>, Option<String>);

/// A deleted row, for change tracking.
#[derive(Debug, Clone)]
pub struct Tombstone {
    /// The deleted row's id.
    pub id: String,
    /// Version of the delete.
    pub version: i64,
}

/// The database behind a mutex: every request works on it alone, so a write and its version are atomic.
pub struct Store {
    inner: Mutex<Db>,
}

impl Store {
    /// Opens (creating) a database file, or an in-memory one for `:memory:`.
    pub fn open(path: &str) -> Result<Store, String> {
        let conn = if path == ":memory:" { Connection::open_in_memory() } else { Connection::open(path) }
            .map_err(|e| format!("cannot open database '{path}': {e}"))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;
             CREATE TABLE IF NOT EXISTS rows(tbl TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
                 version INTEGER NOT NULL, owner TEXT, bu TEXT, PRIMARY KEY(tbl, id));
             CREATE INDEX IF NOT EXISTS rows_version ON rows(tbl, version);
             CREATE INDEX IF NOT EXISTS rows_owner ON rows(tbl, owner);
             CREATE INDEX IF NOT EXISTS rows_bu ON rows(tbl, bu);
             CREATE TABLE IF NOT EXISTS tombstones(tbl TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
                 owner TEXT, bu TEXT, PRIMARY KEY(tbl, id));
             CREATE INDEX IF NOT EXISTS tombstones_version ON tombstones(tbl, version);
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(|e| format!("cannot create the tables in '{path}': {e}"))?;
        let version: i64 = conn
            .query_row(
                "SELECT max(v) FROM (SELECT max(version) v FROM rows UNION ALL SELECT max(version) FROM tombstones
                 UNION ALL SELECT CAST(value AS INTEGER) FROM meta WHERE key='version')",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        Ok(Store { inner: Mutex::new(Db { conn, version, saved_version: None }) })
    }

    /// Exclusive access to the database.
    pub fn lock(&self) -> MutexGuard<'_, Db> {
        match self.inner.lock() {
            Ok(g) => g,
            // A panic while holding the lock left no half-written transaction (SQLite rolls back); keep serving.
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The connection and the version counter.
pub struct Db {
    conn: Connection,
    version: i64,
    saved_version: Option<i64>,
}

/// A storage failure (reported as a 500 with Dataverse's generic SQL error code).
pub type DbResult<T> = Result<T, String>;

fn err(e: rusqlite::Error) -> String {
    format!("SQL error: {e}")
}

fn parse_data(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    }
}

impl Db {
    /// Starts a transaction (one per write request, one per `$batch` change set).
    pub fn begin(&mut self) -> DbResult<()> {
        if !self.conn.is_autocommit() {
            // A transaction left open by a failed request: never let it swallow the next one.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        self.saved_version = Some(self.version);
        Ok(())
    }

    /// Commits the transaction.
    pub fn commit(&mut self) -> DbResult<()> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES('version', ?1) ON CONFLICT(key) DO UPDATE SET value=?1",
                [self.version.to_string()],
            )
            .map_err(err)?;
        self.conn.execute_batch("COMMIT").map_err(err)?;
        self.saved_version = None;
        Ok(())
    }

    /// Rolls the transaction back, version counter included.
    pub fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let Some(v) = self.saved_version.take() {
            self.version = v;
        }
    }

    /// The version of the last committed or pending write.
    pub fn current_version(&self) -> i64 {
        self.version
    }

    fn next_version(&mut self) -> i64 {
        self.version += 1;
        self.version
    }

    /// One row by id.
    pub fn get(&self, tbl: &str, id: &str) -> DbResult<Option<StoredRow>> {
        self.conn
            .query_row("SELECT data, version, owner, bu FROM rows WHERE tbl=?1 AND id=?2", params![tbl, id], |r| {
                Ok(StoredRow {
                    id: id.to_string(),
                    data: parse_data(&r.get::<_, String>(0)?),
                    version: r.get(1)?,
                    owner: r.get(2)?,
                    business_unit: r.get(3)?,
                })
            })
            .optional()
            .map_err(err)
    }

    /// Whether a row exists.
    pub fn exists(&self, tbl: &str, id: &str) -> DbResult<bool> {
        self.conn
            .query_row("SELECT 1 FROM rows WHERE tbl=?1 AND id=?2", params![tbl, id], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(err)
    }

    /// Writes a new row (or replaces one) and returns its version; `versionnumber` in the data is set to it.
    pub fn put(
        &mut self,
        tbl: &str,
        id: &str,
        data: &mut Map<String, Value>,
        owner: Option<&str>,
        bu: Option<&str>,
    ) -> DbResult<i64> {
        let v = self.next_version();
        data.insert("versionnumber".into(), Value::from(v));
        let text = Value::Object(data.clone()).to_string();
        self.conn
            .execute(
                "INSERT INTO rows(tbl, id, data, version, owner, bu) VALUES(?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(tbl, id) DO UPDATE SET data=?3, version=?4, owner=?5, bu=?6",
                params![tbl, id, text, v, owner, bu],
            )
            .map_err(err)?;
        self.conn.execute("DELETE FROM tombstones WHERE tbl=?1 AND id=?2", params![tbl, id]).map_err(err)?;
        Ok(v)
    }

    /// Deletes a row, leaving a tombstone; false when there was none.
    pub fn delete(&mut self, tbl: &str, id: &str) -> DbResult<bool> {
        let Some(row) = self.get(tbl, id)? else { return Ok(false) };
        let v = self.next_version();
        self.conn.execute("DELETE FROM rows WHERE tbl=?1 AND id=?2", params![tbl, id]).map_err(err)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO tombstones(tbl, id, version, owner, bu) VALUES(?1, ?2, ?3, ?4, ?5)",
                params![tbl, id, v, row.owner, row.business_unit],
            )
            .map_err(err)?;
        Ok(true)
    }

    fn collect(&self, sql: &str, args: Vec<Value>) -> DbResult<Vec<StoredRow>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let params = sql_params(args);
        let refs: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
        let rows = stmt
            .query_map(refs.as_slice(), |r| {
                Ok(StoredRow {
                    id: r.get(0)?,
                    data: parse_data(&r.get::<_, String>(1)?),
                    version: r.get(2)?,
                    owner: r.get(3)?,
                    business_unit: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// Up to `limit` rows of a table visible under `access`, in id order, after `after`.
    pub fn scan(&self, tbl: &str, access: &Access, after: Option<&str>, limit: usize) -> DbResult<Vec<StoredRow>> {
        let (sql, args) = scan_sql("id, data, version, owner, bu", tbl, access, after, limit);
        self.collect(&sql, args)
    }

    /// As [`Db::scan`], the data left as text.
    pub fn scan_text(
        &self,
        tbl: &str,
        access: &Access,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<StoredText>> {
        let (sql, args) = scan_sql("id, data, version", tbl, access, after, limit);
        let params = sql_params(args);
        let refs: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
        self.texts(&sql, &refs, limit.min(1024))
    }

    /// As [`Db::get_many`], the data left as text (in no particular order).
    pub fn get_many_text(&self, tbl: &str, access: &Access, ids: &[String]) -> DbResult<Vec<StoredText>> {
        let mut out = Vec::with_capacity(ids.len());
        let (acc, acc_args) = access.sql();
        for chunk in ids.chunks(500) {
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&tbl];
            for id in chunk {
                args.push(id);
            }
            for a in &acc_args {
                args.push(a);
            }
            let sql = format!(
                "SELECT id, data, version FROM rows WHERE tbl = ? AND id IN ({}){acc}",
                placeholders(chunk.len())
            );
            out.extend(self.texts(&sql, &args, chunk.len())?);
        }
        Ok(out)
    }

    fn texts(&self, sql: &str, args: &[&dyn rusqlite::ToSql], capacity: usize) -> DbResult<Vec<StoredText>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let mut rows = stmt.query(args).map_err(err)?;
        let mut out = Vec::with_capacity(capacity);
        while let Some(r) = rows.next().map_err(err)? {
            out.push(StoredText {
                id: r.get(0).map_err(err)?,
                text: r.get(1).map_err(err)?,
                version: r.get(2).map_err(err)?,
            });
        }
        Ok(out)
    }

    /// As [`Db::scan_text`], without reading the rows' data: each row's text is `{"<primary_id>":"<id>"}` (a
    /// listing of ids, such as the first page of change tracking, reads no stored JSON).
    pub fn scan_keys(
        &self,
        tbl: &str,
        primary_id: &str,
        access: &Access,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<StoredText>> {
        let (sql, args) = scan_sql("id, version", tbl, access, after, limit);
        let params = sql_params(args);
        let args: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let mut rows = stmt.query(args.as_slice()).map_err(err)?;
        let key = Value::from(primary_id).to_string();
        let mut out = Vec::with_capacity(limit.min(1024));
        while let Some(r) = rows.next().map_err(err)? {
            let id: String = r.get(0).map_err(err)?;
            let text = format!("{{{key}:{}}}", Value::from(id.as_str()));
            out.push(StoredText { id, text, version: r.get(1).map_err(err)? });
        }
        Ok(out)
    }

    /// Rows with these ids (for `$expand` and lookups' formatted values), visible under `access`.
    pub fn get_many(&self, tbl: &str, access: &Access, ids: &[String]) -> DbResult<Vec<StoredRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let (acc, acc_args) = access.sql();
            let mut args = vec![Value::from(tbl)];
            args.extend(chunk.iter().cloned().map(Value::from));
            args.extend(acc_args.into_iter().map(Value::from));
            let sql = format!(
                "SELECT id, data, version, owner, bu FROM rows WHERE tbl = ? AND id IN ({}){acc}",
                placeholders(chunk.len())
            );
            out.extend(self.collect(&sql, args)?);
        }
        Ok(out)
    }

    /// Rows changed after version `since` (up to `until`), visible under `access`, in version order.
    pub fn changed_since(
        &self,
        tbl: &str,
        access: &Access,
        since: i64,
        until: i64,
        limit: usize,
    ) -> DbResult<Vec<StoredRow>> {
        let (acc, acc_args) = access.sql();
        let mut args = vec![Value::from(tbl), Value::from(since), Value::from(until)];
        args.extend(acc_args.into_iter().map(Value::from));
        args.push(Value::from(limit.min(i64::MAX as usize) as i64));
        let sql = format!(
            "SELECT id, data, version, owner, bu FROM rows WHERE tbl = ? AND version > ? AND version <= ?{acc}
             ORDER BY version LIMIT ?"
        );
        self.collect(&sql, args)
    }

    /// Deletes after version `since` (up to `until`) of rows that were visible under `access`.
    pub fn deleted_since(
        &self,
        tbl: &str,
        access: &Access,
        since: i64,
        until: i64,
        limit: usize,
    ) -> DbResult<Vec<Tombstone>> {
        let (acc, acc_args) = access.sql();
        let sql = format!(
            "SELECT id, version FROM tombstones WHERE tbl = ? AND version > ? AND version <= ?{acc}
             ORDER BY version LIMIT ?"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let mut params: Vec<Box<dyn rusqlite::ToSql>> =
            vec![Box::new(tbl.to_string()), Box::new(since), Box::new(until)];
        for a in acc_args {
            params.push(Box::new(a));
        }
        params.push(Box::new(limit.min(i64::MAX as usize) as i64));
        let refs: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
        let rows =
            stmt.query_map(refs.as_slice(), |r| Ok(Tombstone { id: r.get(0)?, version: r.get(1)? })).map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// Rows whose JSON field `field` equals `value` (small tables: team memberships, profile items).
    pub fn find_by(&self, tbl: &str, field: &str, value: &str) -> DbResult<Vec<StoredRow>> {
        let path = format!("$.\"{}\"", field.replace('"', ""));
        self.collect(
            "SELECT id, data, version, owner, bu FROM rows WHERE tbl = ? AND json_extract(data, ?) = ? ORDER BY id",
            vec![Value::from(tbl), Value::from(path), Value::from(value)],
        )
    }

    /// Rows whose JSON field `field` is one of `values` (collection-valued `$expand`), visible under `access`.
    pub fn find_in(&self, tbl: &str, field: &str, values: &[String], access: &Access) -> DbResult<Vec<StoredRow>> {
        let path = format!("$.\"{}\"", field.replace('"', ""));
        let mut out = Vec::new();
        for chunk in values.chunks(500) {
            let (acc, acc_args) = access.sql();
            let mut args = vec![Value::from(tbl), Value::from(path.clone())];
            args.extend(chunk.iter().cloned().map(Value::from));
            args.extend(acc_args.into_iter().map(Value::from));
            let sql = format!(
                "SELECT id, data, version, owner, bu FROM rows WHERE tbl = ? AND json_extract(data, ?) IN ({}){acc} ORDER BY id",
                placeholders(chunk.len())
            );
            out.extend(self.collect(&sql, args)?);
        }
        Ok(out)
    }

    /// Row counts per table.
    pub fn counts(&self) -> DbResult<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare("SELECT tbl, count(*) FROM rows GROUP BY tbl ORDER BY tbl").map_err(err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// Number of rows in one table.
    pub fn count(&self, tbl: &str) -> DbResult<i64> {
        self.conn.query_row("SELECT count(*) FROM rows WHERE tbl=?1", [tbl], |r| r.get(0)).map_err(err)
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> DbResult<Option<String>> {
        self.conn.query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0)).optional().map_err(err)
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> DbResult<()> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=?2",
                [key, value],
            )
            .map(|_| ())
            .map_err(err)
    }

    /// Trades durability for speed while seeding (a failed seed is rolled back and re-run anyway).
    pub fn fast_writes(&self, on: bool) -> DbResult<()> {
        let sql = if on { "PRAGMA synchronous=OFF; PRAGMA cache_size=-131072;" } else { "PRAGMA synchronous=NORMAL;" };
        self.conn.execute_batch(sql).map_err(err)
    }

    /// Writes many rows in the current transaction with one prepared statement (seeding).
    pub fn put_bulk(&mut self, tbl: &str, rows: Vec<BulkRow>) -> DbResult<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO rows(tbl, id, data, version, owner, bu) VALUES(?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(tbl, id) DO UPDATE SET data=?3, version=?4, owner=?5, bu=?6",
            )
            .map_err(err)?;
        for (id, mut data, owner, bu) in rows {
            self.version += 1;
            let v = self.version;
            data.insert("versionnumber".into(), Value::from(v));
            let text = Value::Object(data).to_string();
            stmt.execute(params![tbl, id, text, v, owner, bu]).map_err(err)?;
        }
        Ok(())
    }
}

/// An id-ordered scan of one table's rows visible under `access`, after `after`, at most `limit`:
/// `SELECT <cols> FROM rows WHERE tbl = ? [AND id > ?]<access> ORDER BY id LIMIT ?` and its arguments.
fn scan_sql(cols: &str, tbl: &str, access: &Access, after: Option<&str>, limit: usize) -> (String, Vec<Value>) {
    let (acc, acc_args) = access.sql();
    let mut args = vec![Value::from(tbl)];
    let after_sql = match after {
        Some(a) => {
            args.push(Value::from(a));
            " AND id > ?"
        }
        None => "",
    };
    args.extend(acc_args.into_iter().map(Value::from));
    args.push(Value::from(limit.min(i64::MAX as usize) as i64));
    (format!("SELECT {cols} FROM rows WHERE tbl = ?{after_sql}{acc} ORDER BY id LIMIT ?"), args)
}

/// Query arguments as SQLite values: integers, texts, anything else NULL.
fn sql_params(args: Vec<Value>) -> Vec<Box<dyn rusqlite::ToSql>> {
    args.into_iter()
        .map(|a| -> Box<dyn rusqlite::ToSql> {
            match a {
                Value::Number(n) => Box::new(n.as_i64().unwrap_or(0)),
                Value::String(s) => Box::new(s),
                _ => Box::new(rusqlite::types::Null),
            }
        })
        .collect()
}
