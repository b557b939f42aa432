//! Typed TEXT columns: ids checked as UUIDs, enums kept as their wire names, JSON documents. A
//! stored value that does not parse fails the load with an error naming it: a corrupted row is
//! reported (`fieldvisit check`, a 500 on the request that read it), never read as a default.

use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::Sqlite;
use fieldvisit_sync_protocol::deadline::{AlertKind, EventType, Severity, Stage};
use fieldvisit_sync_protocol::org::Role;
use fieldvisit_sync_protocol::sync::pull::TicketStatus;
use fieldvisit_sync_protocol::sync::records::{Heating, Satisfaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MultiBackend;

/// An id column: loads only a UUID's text (rows keep ids as the parsers' hyphenated strings).
/// Used as `#[diesel(deserialize_as = StoredUuid)]` on a `String` field.
#[derive(Debug, FromSqlRow)]
pub struct StoredUuid(String);

impl<DB: Backend> FromSql<Text, DB> for StoredUuid
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let s = String::from_sql(bytes)?;
        match uuid::Uuid::parse_str(&s) {
            Ok(_) => Ok(StoredUuid(s)),
            Err(_) => Err(format!("stored id {s:?} is not a UUID").into()),
        }
    }
}

impl From<StoredUuid> for String {
    fn from(id: StoredUuid) -> Self {
        id.0
    }
}

/// A nullable id column (`#[diesel(deserialize_as = OptStoredUuid)]` on an `Option<String>`).
#[derive(Debug, FromSqlRow)]
pub struct OptStoredUuid(Option<String>);

impl<DB: Backend> FromSql<Nullable<Text>, DB> for OptStoredUuid
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(OptStoredUuid(Some(StoredUuid::from_sql(bytes)?.0)))
    }

    fn from_nullable_sql(bytes: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        bytes.map_or(Ok(OptStoredUuid(None)), Self::from_sql)
    }
}

impl From<OptStoredUuid> for Option<String> {
    fn from(id: OptStoredUuid) -> Self {
        id.0
    }
}

/// An enum stored as its wire name.
pub trait Named: std::fmt::Debug + Copy + Send + Sync + 'static {
    fn name(self) -> &'static str;
    fn of_name(s: &str) -> Option<Self>;
}

/// The serde form of every named enum is its snake_case wire name.
fn of_wire_name<T: DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn name(self) -> &'static str {
                self.as_str()
            }
            fn of_name(s: &str) -> Option<Self> {
                of_wire_name(s)
            }
        }
    )*};
}
named!(AlertKind, EventType, Heating, Role, Satisfaction, Severity, Stage, TicketStatus);

/// A column holding a [`Named`] enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Enum<T: Named>(pub T);

impl<T: Named, DB: Backend> FromSql<Text, DB> for Enum<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let s = String::from_sql(bytes)?;
        match T::of_name(&s) {
            Some(v) => Ok(Enum(v)),
            None => Err(format!("stored value {s:?} is not a {}", std::any::type_name::<T>()).into()),
        }
    }
}

impl<T: Named, DB: Backend> ToSql<Text, DB> for Enum<T>
where
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.0.name().to_sql(out)
    }
}

/// A column holding `T` as JSON text.
#[derive(Debug, Clone, PartialEq, Default, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Json<T: Document>(pub T);

/// What a [`Json`] column can hold.
pub trait Document: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static> Document for T {}

impl<T: Document, DB: Backend> FromSql<Text, DB> for Json<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let s = String::from_sql(bytes)?;
        serde_json::from_str(&s).map(Json).map_err(|e| format!("stored JSON {s:?} does not parse: {e}").into())
    }
}

impl<T: Document> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        out.flush()?;
        Ok(IsNull::No)
    }
}

impl<T: Document> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T: Document> ToSql<Text, MultiBackend> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}
