//! The checklist report's arithmetic, without I/O: tallies (grid, item, answer, visits) summed per
//! area of the caller's scope, then per item the visits that answered it, the share answering
//! `true` (bool), p10/p50 by nearest rank (number) and the count of each choice (choice).

use std::collections::{BTreeMap, HashMap};

use fieldvisit_sync_protocol::checklist::{Kind, Template};
use serde::Serialize;

use crate::db::checklist_tallies::TallyRow;
use crate::reports;

/// One item as the report lists it: its key, its newest label and its type.
#[derive(Debug, Clone)]
pub struct ItemInfo {
    pub key: String,
    pub label: String,
    pub kind: Kind,
}

/// Every item any version of the template asked, in the newest version's order, then the retired
/// ones (old visits still answered them), each with its newest label.
pub fn items_of(versions: &[Template]) -> Vec<ItemInfo> {
    let mut out: Vec<ItemInfo> = Vec::new();
    for t in versions.iter().rev() {
        for item in &t.items {
            if !out.iter().any(|i| i.key == item.key) {
                out.push(ItemInfo { key: item.key.clone(), label: item.label.clone(), kind: item.kind.clone() });
            }
        }
    }
    out
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ItemFigures {
    pub key: String,
    pub label: String,
    /// `bool`, `number`, `text` or `choice`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Visits that answered the item.
    pub answered: i64,
    /// `bool`: the share of answers that are `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_true: Option<f64>,
    /// `number`: the 10th and 50th percentiles (nearest rank).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p10: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    /// `choice`: visits per choice (every choice of the newest version, 0 included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AreaFigures {
    pub area_id: String,
    pub name: String,
    /// Visits filled from the template.
    pub visits: i64,
    pub items: Vec<ItemFigures>,
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Bool => "bool",
        Kind::Number { .. } => "number",
        Kind::Text => "text",
        Kind::Choice { .. } => "choice",
    }
}

/// Nearest-rank percentile over (value, count) pairs (the same rank as `reports::percentile`).
pub fn percentile_of(counts: &mut [(f64, i64)], p: f64) -> Option<f64> {
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    counts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
    counts
        .iter()
        .scan(0, |acc, (v, n)| {
            *acc += n;
            Some((*v, *acc))
        })
        .find(|(_, acc)| *acc >= rank)
        .map(|(v, _)| v)
}

/// Per area of `scope_path` (its child areas, as the other reports group), the figures of `items`.
pub fn figures(
    items: &[ItemInfo],
    rows: Vec<TallyRow>,
    scope_path: &str,
    names: &HashMap<String, String>,
) -> Vec<AreaFigures> {
    // area → item → answer → visits
    let mut by_area: BTreeMap<String, HashMap<String, HashMap<String, i64>>> = BTreeMap::new();
    for (path, item, answer, n) in rows {
        let area = by_area.entry(reports::area_key(&path, scope_path)).or_default();
        *area.entry(item).or_default().entry(answer).or_default() += n;
    }
    by_area
        .into_iter()
        .map(|(area_id, answers)| {
            let empty = HashMap::new();
            let visits = answers.get("").map_or(0, |a| a.values().sum());
            let items = items
                .iter()
                .map(|info| {
                    let got = answers.get(&info.key).unwrap_or(&empty);
                    let answered: i64 = got.values().sum();
                    let mut f = ItemFigures {
                        key: info.key.clone(),
                        label: info.label.clone(),
                        kind: kind_name(&info.kind),
                        answered,
                        share_true: None,
                        p10: None,
                        p50: None,
                        choices: None,
                    };
                    match &info.kind {
                        Kind::Bool if answered > 0 => {
                            f.share_true = Some(got.get("true").copied().unwrap_or(0) as f64 / answered as f64);
                        }
                        Kind::Number { .. } => {
                            let mut counts: Vec<(f64, i64)> =
                                got.iter().filter_map(|(a, n)| Some((a.parse::<f64>().ok()?, *n))).collect();
                            f.p10 = percentile_of(&mut counts, 0.1);
                            f.p50 = percentile_of(&mut counts, 0.5);
                        }
                        Kind::Choice { choices } => {
                            let mut all: BTreeMap<String, i64> = choices.iter().map(|c| (c.clone(), 0)).collect();
                            for (a, n) in got {
                                *all.entry(a.clone()).or_default() += n;
                            }
                            f.choices = Some(all);
                        }
                        Kind::Bool | Kind::Text => {}
                    }
                    f
                })
                .collect();
            AreaFigures { name: reports::name_of(names, &area_id), area_id, visits, items }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_over_counts_match_the_ones_over_values() {
        let values = [50, 10, 40, 20, 30, 60, 70, 80, 90, 100, 10, 10];
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        for v in values {
            *counts.entry(v).or_default() += 1;
        }
        let mut pairs: Vec<(f64, i64)> = counts.iter().map(|(v, n)| (*v as f64, *n)).collect();
        for p in [0.1, 0.5, 0.9, 1.0] {
            let want = reports::percentile(&mut values.clone(), p).map(|v| v as f64);
            assert_eq!(percentile_of(&mut pairs, p), want, "p{p}");
        }
        assert_eq!(percentile_of(&mut [], 0.5), None);
    }
}
