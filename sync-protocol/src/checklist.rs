//! Versioned checklist templates (contract 1.1): the items a visit asks, typed, and the check of
//! a visit's `checklist` against the template version it names. Pure: no storage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::sync::limits::{MAX_CHECKLIST_KEYS, MAX_CHECKLIST_KEY_LEN, MAX_SHORT};

/// The id of the template every county starts with (四访四问 · 四看四查).
pub const DEFAULT_TEMPLATE_ID: &str = "winter_visit";

/// One version of a template, as `GET /api/v1/checklists` and pull send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Template {
    /// The path's id in a `PUT`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_]{1,64}$"))]
    pub id: String,
    /// Numbered by the server; a `PUT` body's is ignored.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub version: i32,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// A retired template stays readable (old visits name it) but phones stop offering it.
    #[serde(default = "yes")]
    pub active: bool,
    /// Keys unique within the template.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub items: Vec<Item>,
}

fn yes() -> bool {
    true
}

/// One question of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item {
    /// The key the visit's `checklist` answers it under (English, short).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_]{1,64}$"))]
    pub key: String,
    /// What the volunteer reads (Chinese).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub label: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// Only a few items are required: a volunteer must never be blocked by optional ones.
    #[serde(default)]
    pub required: bool,
}

/// An item's answer type, sent as `"type"` beside its own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    Bool,
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    Text,
    Choice {
        #[cfg_attr(feature = "openapi", schema(min_items = 1))]
        choices: Vec<String>,
    },
}

/// What is wrong, and with which item (`key`, or a template field such as `items[2].key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub key: String,
    pub message: String,
}

impl ItemError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CHECKLIST_KEY_LEN
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn short_text(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= MAX_SHORT
}

impl Template {
    /// Checks a template before it is stored; the error's `key` is the body's field path.
    pub fn validate(&self) -> Result<(), ItemError> {
        if !is_key(&self.id) {
            return Err(ItemError::new("id", "must be 1 to 64 of a-z, 0-9 and _"));
        }
        if !short_text(&self.name) {
            return Err(ItemError::new("name", format!("must be 1 to {MAX_SHORT} characters")));
        }
        if self.items.is_empty() || self.items.len() > MAX_CHECKLIST_KEYS {
            return Err(ItemError::new("items", format!("must hold 1 to {MAX_CHECKLIST_KEYS} items")));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, item) in self.items.iter().enumerate() {
            let at = |f: &str| format!("items[{i}].{f}");
            if !is_key(&item.key) {
                return Err(ItemError::new(at("key"), "must be 1 to 64 of a-z, 0-9 and _"));
            }
            if !seen.insert(item.key.as_str()) {
                return Err(ItemError::new(at("key"), format!("`{}` appears twice", item.key)));
            }
            if !short_text(&item.label) {
                return Err(ItemError::new(at("label"), format!("must be 1 to {MAX_SHORT} characters")));
            }
            match &item.kind {
                Kind::Number { min, max, .. } => {
                    let finite = |x: &Option<f64>| x.is_none_or(f64::is_finite);
                    if !finite(min) || !finite(max) || matches!((min, max), (Some(a), Some(b)) if a > b) {
                        return Err(ItemError::new(at("min"), "min and max must be numbers with min <= max"));
                    }
                }
                Kind::Choice { choices } => {
                    if choices.is_empty() || !choices.iter().all(|c| short_text(c)) {
                        return Err(ItemError::new(at("choices"), "must list at least one non-empty choice"));
                    }
                }
                Kind::Bool | Kind::Text => {}
            }
        }
        Ok(())
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.key == key)
    }
}

/// Checks a visit's answers against `template`: every key must be an item of it, every answer of
/// its item's type (and range, or one of its choices), and every required item answered. The
/// error names the first offending key, with a message a volunteer understands.
pub fn check(template: &Template, checklist: &Map<String, Value>) -> Result<(), ItemError> {
    for (key, value) in checklist {
        let Some(item) = template.item(key) else {
            let message = format!("`{key}` is not an item of checklist {} v{}", template.id, template.version);
            return Err(ItemError::new(key, message));
        };
        check_answer(item, value).map_err(|m| ItemError::new(key, format!("{}: {m}", item.label)))?;
    }
    let unanswered = |i: &&Item| match checklist.get(&i.key) {
        None => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    };
    match template.items.iter().filter(|i| i.required).find(unanswered) {
        Some(item) => Err(ItemError::new(&item.key, format!("{}: must be answered", item.label))),
        None => Ok(()),
    }
}

fn check_answer(item: &Item, value: &Value) -> Result<(), String> {
    match (&item.kind, value) {
        (Kind::Bool, Value::Bool(_)) | (Kind::Text, Value::String(_)) => Ok(()),
        (Kind::Bool, _) => Err("must be yes or no (true or false)".into()),
        (Kind::Text, _) => Err("must be text".into()),
        (Kind::Number { unit, min, max }, Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let unit = unit.as_deref().unwrap_or("");
            match (min, max) {
                (Some(lo), _) if x < *lo => Err(format!("must be at least {lo}{unit}")),
                (_, Some(hi)) if x > *hi => Err(format!("must be at most {hi}{unit}")),
                _ => Ok(()),
            }
        }
        (Kind::Number { .. }, _) => Err("must be a number".into()),
        (Kind::Choice { choices }, Value::String(s)) if choices.contains(s) => Ok(()),
        (Kind::Choice { choices }, _) => Err(format!("must be one of {}", choices.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn template() -> Template {
        serde_json::from_value(json!({
            "id": "winter", "version": 3, "name": "入户检查", "items": [
                {"key": "radiator_warm", "label": "暖气片热", "type": "bool", "required": true},
                {"key": "indoor_temp", "label": "室内温度", "type": "number", "unit": "°C", "min": -10, "max": 35},
                {"key": "concerns", "label": "居民诉求", "type": "text"},
                {"key": "heating", "label": "取暖方式", "type": "choice", "choices": ["coal", "gas"]}
            ]
        }))
        .expect("a template")
    }

    #[test]
    fn answers_are_checked_item_by_item() {
        let cases = [
            (json!({"radiator_warm": true}), None),
            (json!({"radiator_warm": false, "indoor_temp": 18.5, "concerns": "", "heating": "coal"}), None),
            (json!({}), Some(("radiator_warm", "暖气片热: must be answered"))),
            (json!({"radiator_warm": "yes"}), Some(("radiator_warm", "暖气片热: must be yes or no (true or false)"))),
            (
                json!({"radiator_warm": true, "indoor_temp": 36}),
                Some(("indoor_temp", "室内温度: must be at most 35°C")),
            ),
            (
                json!({"radiator_warm": true, "indoor_temp": -11}),
                Some(("indoor_temp", "室内温度: must be at least -10°C")),
            ),
            (json!({"radiator_warm": true, "indoor_temp": "20"}), Some(("indoor_temp", "室内温度: must be a number"))),
            (json!({"radiator_warm": true, "concerns": 1}), Some(("concerns", "居民诉求: must be text"))),
            (json!({"radiator_warm": true, "heating": "oil"}), Some(("heating", "取暖方式: must be one of coal, gas"))),
            (
                json!({"radiator_warm": true, "co_alarm": true}),
                Some(("co_alarm", "`co_alarm` is not an item of checklist winter v3")),
            ),
        ];
        for (checklist, want) in cases {
            let got = check(&template(), checklist.as_object().expect("object"));
            let want = want.map(|(k, m)| ItemError::new(k, m));
            assert_eq!(got.err(), want, "{checklist}");
        }
    }

    #[test]
    fn the_wire_shape_is_the_contracts() {
        let t = template();
        let v = serde_json::to_value(&t).expect("json");
        assert_eq!(
            v["items"][1],
            json!({"key": "indoor_temp", "label": "室内温度", "type": "number",
            "unit": "°C", "min": -10.0, "max": 35.0, "required": false})
        );
        assert_eq!(v["active"], json!(true));
        assert_eq!(serde_json::from_value::<Template>(v).expect("round trip"), t);
    }

    #[test]
    fn bad_templates_are_refused_with_their_field() {
        type Spoil = fn(&mut Template);
        let cases: [(Spoil, &str); 5] = [
            (|t| t.items[1].key = "Bad Key".into(), "items[1].key"),
            (|t| t.items[2].key = "radiator_warm".into(), "items[2].key"),
            (|t| t.items[0].label = " ".into(), "items[0].label"),
            (|t| t.items[1].kind = Kind::Number { unit: None, min: Some(5.0), max: Some(1.0) }, "items[1].min"),
            (|t| t.items[3].kind = Kind::Choice { choices: vec![] }, "items[3].choices"),
        ];
        assert_eq!(template().validate(), Ok(()));
        for (spoil, field) in cases {
            let mut t = template();
            spoil(&mut t);
            assert_eq!(t.validate().map_err(|e| e.key), Err(field.to_owned()));
        }
    }

    fn any_item() -> impl Strategy<Value = Item> {
        let kind = prop_oneof![
            Just(Kind::Bool),
            Just(Kind::Text),
            (-50.0..50.0f64, 0.0..100.0f64).prop_map(|(lo, span)| Kind::Number {
                unit: None,
                min: Some(lo),
                max: Some(lo + span)
            }),
            prop::collection::vec("[a-z]{1,6}", 1..4).prop_map(|choices| Kind::Choice { choices }),
        ];
        ("[a-z_]{1,12}", kind, any::<bool>()).prop_map(|(key, kind, required)| Item {
            label: format!("项目 {key}"),
            key,
            kind,
            required,
        })
    }

    /// A valid answer to `item`, picked by `pick`.
    fn answer(item: &Item, pick: u8) -> Value {
        match &item.kind {
            Kind::Bool => json!(pick.is_multiple_of(2)),
            Kind::Text => json!(format!("答 {pick}")),
            Kind::Number { min, max, .. } => {
                let (lo, hi) = (min.unwrap_or(0.0), max.unwrap_or(0.0));
                json!(lo + (hi - lo) * f64::from(pick) / 255.0)
            }
            Kind::Choice { choices } => json!(choices[usize::from(pick) % choices.len()]),
        }
    }

    proptest! {
        #[test]
        fn answers_built_from_the_template_pass_and_unknown_keys_fail(
            items in prop::collection::vec(any_item(), 1..12),
            picks in prop::collection::vec(any::<u8>(), 12),
            skip in prop::collection::vec(any::<bool>(), 12),
            extra in "[a-z]{1,8}",
        ) {
            let mut t = template();
            t.items = items;
            t.items.dedup_by(|a, b| a.key == b.key);
            let keys: std::collections::HashSet<_> = t.items.iter().map(|i| i.key.clone()).collect();
            prop_assume!(keys.len() == t.items.len() && !keys.contains(&extra));
            // Every required item answered, optional ones left out at random.
            let mut checklist = Map::new();
            for (i, item) in t.items.iter().enumerate() {
                if item.required || !skip[i] {
                    checklist.insert(item.key.clone(), answer(item, picks[i]));
                }
            }
            prop_assert_eq!(check(&t, &checklist), Ok(()));
            checklist.insert(extra.clone(), json!(true));
            let err = check(&t, &checklist).expect_err("an unknown key");
            prop_assert_eq!(err.key, extra);
        }
    }
}
