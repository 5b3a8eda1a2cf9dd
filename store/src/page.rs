//! Keyset pagination and dynamic `WHERE` clauses shared by the chat log and gift ledger queries.
//!
//! A cursor is the sort key of the last item returned, as base64url JSON behind a one-letter tag
//! naming the query kind. The next page asks for rows strictly after that key with a row-value
//! comparison (`(at_ms, room, seq) > ($1, $2, $3)`, supported by SQLite ≥ 3.15 and PostgreSQL),
//! so rows appended meanwhile never shift or repeat a page, unlike `OFFSET`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use crate::StoreError;

/// The largest page a query returns; larger `limit`s are clamped to it.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// Longest cursor accepted; anything longer was not issued by this store.
const MAX_CURSOR_LEN: usize = 2048;

/// One page of a keyset-paginated query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the query's stable order.
    pub items: Vec<T>,
    /// Pass this as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Clamps a requested page size to `1..=MAX_PAGE_LIMIT`.
pub(crate) fn clamp_limit(limit: u32) -> usize {
    limit.clamp(1, MAX_PAGE_LIMIT) as usize
}

/// Turns `limit + 1` fetched rows into a page: the extra row only proves there is more.
pub(crate) fn finish<T>(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(key)
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// Encodes a sort key as an opaque cursor for the query kind `tag`.
pub(crate) fn encode_cursor(tag: char, key: &impl Serialize) -> String {
    // Serializing plain tuples of integers and strings cannot fail.
    let json = serde_json::to_string(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{tag}{json}"))
}

/// Decodes a cursor issued by [`encode_cursor`] with the same `tag`.
pub(crate) fn decode_cursor<K: DeserializeOwned>(tag: char, cursor: &str) -> Result<K, StoreError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(StoreError::BadCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
    let json = text.strip_prefix(tag).ok_or(StoreError::BadCursor)?;
    serde_json::from_str(json).map_err(|_| StoreError::BadCursor)
}

/// A value bound to a generated `$N` placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// `AND`-ed conditions with their binds, numbered `$1, $2, …` in push order.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Adds a condition; each `?` in `template` becomes the next `$N`, bound to the next value.
    /// Templates are `'static`, so user input only ever travels as a bind.
    pub(crate) fn push(&mut self, template: &'static str, binds: impl IntoIterator<Item = Bind>) {
        let mut parts = template.split('?');
        let mut clause = parts.next().unwrap_or_default().to_owned();
        for (part, bind) in parts.zip(binds) {
            clause.push_str(&self.placeholder(bind));
            clause.push_str(part);
        }
        self.clauses.push(clause);
    }

    /// Binds one more value (e.g. the `LIMIT`) and returns its placeholder.
    pub(crate) fn placeholder(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }

    /// `" WHERE a AND b"`, or nothing.
    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// Builds the query for `sql` (made of static fragments and placeholders) with the binds.
    pub(crate) fn into_query(self, sql: String) -> Query<'static, Any, AnyArguments> {
        self.binds
            .into_iter()
            .fold(sqlx::query(AssertSqlSafe(sql)), |q, bind| match bind {
                Bind::Int(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_tagged() {
        let key = (17_i64, "room:with:colons".to_owned(), 3_i64);
        let cursor = encode_cursor('c', &key);
        assert_eq!(
            decode_cursor::<(i64, String, i64)>('c', &cursor).ok(),
            Some(key)
        );
        assert!(matches!(
            decode_cursor::<(i64, String, i64)>('g', &cursor),
            Err(StoreError::BadCursor)
        ));
    }

    #[test]
    fn garbage_cursors_are_typed_errors() {
        for bad in ["", "!!!", "bm90IGpzb24", &"A".repeat(5000)] {
            assert!(matches!(
                decode_cursor::<(i64, i64)>('c', bad),
                Err(StoreError::BadCursor)
            ));
        }
    }

    #[test]
    fn filter_numbers_placeholders_in_order() {
        let mut f = Filter::default();
        f.push("room = ?", [Bind::Text("a".into())]);
        f.push("(at_ms, seq) > (?, ?)", [Bind::Int(1), Bind::Int(2)]);
        let limit = f.placeholder(Bind::Int(10));
        assert_eq!(
            f.where_sql(),
            " WHERE room = $1 AND (at_ms, seq) > ($2, $3)"
        );
        assert_eq!(limit, "$4");
    }
}
