//! PostgreSQL statements over many rows whose text never depends on how many rows there are:
//! each column is bound as ONE array and `unnest` turns the arrays back into rows. diesel then
//! prepares each statement once per connection (a static query id). Its multi-row `INSERT`s were
//! a new statement for every row count: parsed and planned anew each time, with up to 8,400
//! parameters, about a fifth of the PostgreSQL server's time under the push benchmark, plus a
//! second round trip for the unnamed prepare.

use super::typed::{Document, Enum, Json, Named};

/// A row field as the value its column's array holds: typed columns (`Enum`, `Json`) become the
/// text they are stored as, plain values stay as they are.
pub trait ToColumn {
    type Column;
    fn to_column(&self) -> diesel::QueryResult<Self::Column>;
}

macro_rules! as_is {
    ($($t:ty),*) => {$(
        impl ToColumn for $t {
            type Column = $t;
            fn to_column(&self) -> diesel::QueryResult<$t> {
                Ok(self.clone())
            }
        }
    )*};
}
as_is!(String, Option<String>, i64, Option<i64>, i32, Option<i32>, bool, Option<bool>, Option<f64>);

impl<T: Named> ToColumn for Enum<T> {
    type Column = String;
    fn to_column(&self) -> diesel::QueryResult<String> {
        Ok(self.0.name().to_owned())
    }
}

impl<T: Named> ToColumn for Option<Enum<T>> {
    type Column = Option<String>;
    fn to_column(&self) -> diesel::QueryResult<Option<String>> {
        Ok(self.map(|e| e.0.name().to_owned()))
    }
}

fn json_text<T: Document>(value: &T) -> diesel::QueryResult<String> {
    serde_json::to_string(value).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

impl<T: Document> ToColumn for Json<T> {
    type Column = String;
    fn to_column(&self) -> diesel::QueryResult<String> {
        json_text(&self.0)
    }
}

impl<T: Document> ToColumn for Option<Json<T>> {
    type Column = Option<String>;
    fn to_column(&self) -> diesel::QueryResult<Option<String>> {
        self.as_ref().map(|j| json_text(&j.0)).transpose()
    }
}

/// The Rust type, diesel SQL type and PostgreSQL array element type of an unnest column kind.
#[doc(hidden)]
#[macro_export]
macro_rules! unnest_kind {
    (rust text) => { String };
    (rust opt_text) => { Option<String> };
    (rust int8) => { i64 };
    (rust opt_int8) => { Option<i64> };
    (rust int4) => { i32 };
    (rust opt_int4) => { Option<i32> };
    (rust bool) => { bool };
    (rust opt_bool) => { Option<bool> };
    (rust opt_float8) => { Option<f64> };
    (sql text) => { diesel::sql_types::Text };
    (sql opt_text) => { diesel::sql_types::Nullable<diesel::sql_types::Text> };
    (sql int8) => { diesel::sql_types::BigInt };
    (sql opt_int8) => { diesel::sql_types::Nullable<diesel::sql_types::BigInt> };
    (sql int4) => { diesel::sql_types::Integer };
    (sql opt_int4) => { diesel::sql_types::Nullable<diesel::sql_types::Integer> };
    (sql bool) => { diesel::sql_types::Bool };
    (sql opt_bool) => { diesel::sql_types::Nullable<diesel::sql_types::Bool> };
    (sql opt_float8) => { diesel::sql_types::Nullable<diesel::sql_types::Double> };
    (cast text) => { "::text[]" };
    (cast opt_text) => { "::text[]" };
    (cast int8) => { "::int8[]" };
    (cast opt_int8) => { "::int8[]" };
    (cast int4) => { "::int4[]" };
    (cast opt_int4) => { "::int4[]" };
    (cast bool) => { "::bool[]" };
    (cast opt_bool) => { "::bool[]" };
    (cast opt_float8) => { "::float8[]" };
}

/// A statement `HEAD unnest($1::t[], ...) AS u(fields) TAIL` over rows of `$row`, one array per
/// listed field (`field: kind`, kinds as in [`unnest_kind!`]); `u`'s columns are named after the
/// fields. HEAD is an expression of `$columns`, the fields joined by commas (for an INSERT's
/// column list). `new` copies the fields out of the rows.
#[macro_export]
macro_rules! unnest_statement {
    ($(#[$m:meta])* $name:ident for $row:ty: |$columns:ident| $head:expr, $tail:literal, { $($field:ident: $kind:ident),+ $(,)? }) => {
        $(#[$m])*
        pub struct $name {
            $($field: Vec<$crate::unnest_kind!(rust $kind)>),+
        }

        impl $name {
            pub fn new<'r>(rows: impl IntoIterator<Item = &'r $row> + Clone) -> diesel::QueryResult<Self> {
                Ok(Self {
                    $($field: rows
                        .clone()
                        .into_iter()
                        .map(|r| $crate::db::unnest::ToColumn::to_column(&r.$field))
                        .collect::<diesel::QueryResult<_>>()?),+
                })
            }
        }

        impl diesel::query_builder::QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                let $columns = [$(stringify!($field)),+].join(", ");
                let head: String = $head;
                out.push_sql(&head);
                out.push_sql(" unnest(");
                let mut sep = "";
                $(
                    out.push_sql(sep);
                    out.push_bind_param::<diesel::sql_types::Array<$crate::unnest_kind!(sql $kind)>, _>(&self.$field)?;
                    out.push_sql($crate::unnest_kind!(cast $kind));
                    sep = ", ";
                )+
                let _ = sep;
                out.push_sql(") AS u(");
                out.push_sql(&$columns);
                out.push_sql(") ");
                out.push_sql($tail);
                Ok(())
            }
        }

        impl diesel::RunQueryDsl<diesel::pg::PgConnection> for $name {}
    };
}

/// `INSERT INTO $table (fields) SELECT * FROM unnest(...)`, then `$tail` (e.g. ON CONFLICT).
#[macro_export]
macro_rules! unnest_insert {
    ($(#[$m:meta])* $name:ident for $row:ty: $table:literal, $tail:literal, { $($field:ident: $kind:ident),+ $(,)? }) => {
        $crate::unnest_statement!(
            $(#[$m])*
            $name for $row: |columns| format!(concat!("INSERT INTO ", $table, " ({}) SELECT * FROM"), columns),
            $tail,
            { $($field: $kind),+ }
        );
    };
}
