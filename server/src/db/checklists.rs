//! Checklist templates, versioned like the policy (contract 1.1): each version is a row; a county
//! reads its own versions and the defaults (`county_id` NULL). Version numbers are unique per
//! template id across counties, so a visit's `{id, version}` alone names what it is checked against.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use fieldvisit_sync_protocol::checklist::Template;
use serde_json::json;

use super::policies::County;
use super::schema::checklist_templates as ct;
use super::{seq, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ct)]
pub struct TemplateRow {
    pub id: String,
    pub version: i32,
    pub county_id: Option<String>,
    pub name: String,
    pub active: bool,
    /// The items as JSON (`Vec<Item>`).
    pub items: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    pub seq: i64,
}

impl TemplateRow {
    /// `None` only for a row whose items no longer parse (never written by this server).
    pub fn template(&self) -> Option<Template> {
        Some(Template {
            id: self.id.clone(),
            version: self.version,
            name: self.name.clone(),
            active: self.active,
            items: serde_json::from_str(&self.items).ok()?,
        })
    }
}

/// Every version a county reads (its own and the defaults; `None`: the defaults), oldest first.
pub fn versions_for(conn: &mut DbConn, county: Option<&County>) -> QueryResult<Vec<TemplateRow>> {
    let id = county.map_or("", |c| c.id.as_str());
    ct::table
        .filter(ct::county_id.is_null().or(ct::county_id.eq(id)))
        .order((ct::id, ct::version))
        .select(TemplateRow::as_select())
        .load(conn)
}

/// The newest version of each template a county reads, by id.
pub fn latest_for(conn: &mut DbConn, county: Option<&County>) -> QueryResult<Vec<TemplateRow>> {
    let mut latest: BTreeMap<String, TemplateRow> = BTreeMap::new();
    for row in versions_for(conn, county)? {
        latest.insert(row.id.clone(), row);
    }
    Ok(latest.into_values().collect())
}

/// What pull sends as `checklist_templates`: on the first pull (`after` < 0) the county's active
/// templates; after a cursor, those whose newest version is newer than it (retired ones too, so
/// phones stop offering them).
pub fn changed_for(conn: &mut DbConn, county: Option<&County>, after: i64) -> QueryResult<Vec<Template>> {
    let rows = latest_for(conn, county)?;
    let changed = |r: &&TemplateRow| if after < 0 { r.active } else { r.seq > after };
    Ok(rows.iter().filter(changed).filter_map(TemplateRow::template).collect())
}

/// The versions `refs` name, loaded at once (a push checks a whole batch against them).
pub fn by_refs(conn: &mut DbConn, refs: &[(String, i32)]) -> QueryResult<HashMap<(String, i32), Template>> {
    if refs.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&String> = refs.iter().map(|(id, _)| id).collect();
    let rows: Vec<TemplateRow> = ct::table.filter(ct::id.eq_any(ids)).select(TemplateRow::as_select()).load(conn)?;
    Ok(rows
        .iter()
        .filter(|r| refs.iter().any(|(id, v)| *id == r.id && *v == r.version))
        .filter_map(|r| Some(((r.id.clone(), r.version), r.template()?)))
        .collect())
}

pub fn next_version(conn: &mut DbConn, id: &str) -> QueryResult<i32> {
    let last: Option<i32> = ct::table.filter(ct::id.eq(id)).select(diesel::dsl::max(ct::version)).first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

/// Stores `template` (its version already numbered) for `county` (`None`: the default).
pub fn insert(
    conn: &mut DbConn,
    template: &Template,
    county_id: Option<String>,
    by: Option<String>,
    now: i64,
) -> QueryResult<()> {
    let row = TemplateRow {
        id: template.id.clone(),
        version: template.version,
        county_id,
        name: template.name.clone(),
        active: template.active,
        items: serde_json::to_string(&template.items).unwrap_or_else(|_| "[]".into()),
        created_at: now,
        created_by: by,
        seq: seq::allocate(conn, 1)?,
    };
    diesel::insert_into(ct::table).values(&row).execute(conn).map(drop)
}

/// The id of the template created on first start.
pub const DEFAULT_ID: &str = fieldvisit_sync_protocol::checklist::DEFAULT_TEMPLATE_ID;

/// The source report's items (四访四问 / 四看四查): keys in English, labels in Chinese. Only the
/// first three are required, so a volunteer is never blocked by the rest.
pub fn default_template() -> Template {
    let item = |key: &str, label: &str, required: bool| json!({"key": key, "label": label, "type": "bool", "required": required});
    let body = json!({
        "id": DEFAULT_ID, "version": 1, "name": "入户走访（四访四问 · 四看四查）", "active": true,
        "items": [
            item("indoor_temp_ok", "温度达标（18°C以上）", true),
            item("radiator_warm", "暖气片热", true),
            item("pipes_valves_ok", "管道阀门完好", true),
            item("stove_flue_safe", "炉具烟道安全（燃煤户）", false),
            item("co_alarm_present", "有烟雾/一氧化碳报警器", false),
            item("co_alarm_working", "报警器有效", false),
            item("service_card_given", "已发放便民服务卡", false),
            item("subsidy_or_coal_received", "取暖补贴或煤已到位", false),
            {"key": "resident_concerns", "label": "居民诉求", "type": "text", "required": false},
        ]
    });
    // A literal of this module; its shape is covered by the unit test below.
    serde_json::from_value(body).unwrap_or_else(|_| Template {
        id: DEFAULT_ID.into(),
        version: 1,
        name: String::new(),
        active: true,
        items: Vec::new(),
    })
}

/// Stores the default template (version 1, for every county) if there is no template yet.
pub fn ensure_default(conn: &mut DbConn, now: i64) -> QueryResult<()> {
    if ct::table.count().get_result::<i64>(conn)? == 0 {
        insert(conn, &default_template(), None, None, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_template_is_valid() {
        let t = super::default_template();
        assert_eq!(t.validate(), Ok(()));
        assert_eq!(t.items.len(), 9);
        assert_eq!(t.items.iter().filter(|i| i.required).count(), 3);
    }
}
