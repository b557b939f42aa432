//! The household merge: data-driven cases, then properties over small value sets (so that
//! sides often agree or collide).
//!
//! Notation: a household is `address|head_name|phone|heating|tags` with `-` for no phone and
//! tags separated by `,`; the current (server) version was saved at minute `cur`, the phone's
//! edit at minute `inc`.

use fieldvisit_sync_protocol::sync::{merge_household, Heating, HouseholdFields};
use proptest::prelude::*;
use proptest::sample::select;

fn hh(spec: &str) -> HouseholdFields {
    let parts: Vec<&str> = spec.split('|').collect();
    let [address, head_name, phone, heating, tags] = parts[..] else { panic!("5 parts: {spec}") };
    HouseholdFields {
        address: address.to_owned(),
        head_name: head_name.to_owned(),
        phone: (phone != "-").then(|| phone.to_owned()),
        heating: serde_json::from_value(serde_json::Value::String(heating.to_owned())).expect("heating"),
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
    }
}

/// Merges and checks the result, the conflicting fields and the fields the phone changed
/// (both as space-separated lists).
fn check(
    base: &str,
    (current, cur): (&str, i64),
    (incoming, inc): (&str, i64),
    expected: &str,
    conflicts: &str,
    changed: &str,
) {
    let m = merge_household(&hh(base), &hh(current), cur * 60_000, &hh(incoming), inc * 60_000);
    let ctx = format!("base {base} current {current}@{cur} incoming {incoming}@{inc}");
    assert_eq!(m.fields, hh(expected), "{ctx}");
    assert_eq!(m.conflicting_fields.join(" "), conflicts, "conflicting_fields: {ctx}");
    assert_eq!(m.phone_changed.join(" "), changed, "phone_changed: {ctx}");
}

const BASE: &str = "1 Road|Li|111|coal|elderly";

#[test]
fn untouched_by_the_phone_keeps_the_server() {
    check(BASE, ("2 Road|Wang|222|gas|", 10), (BASE, 20), "2 Road|Wang|222|gas|", "", "");
}

#[test]
fn untouched_by_the_server_takes_the_phone() {
    check(
        BASE,
        (BASE, 10),
        ("2 Road|Wang|-|gas|a,b", 5),
        "2 Road|Wang|-|gas|a,b",
        "",
        "address head_name phone heating tags",
    );
}

#[test]
fn different_fields_changed_on_each_side_are_both_kept() {
    check(
        BASE,
        ("1 Road|Li|999|coal|elderly", 30),
        ("1 Road|Li|111|gas|elderly", 10),
        "1 Road|Li|999|gas|elderly",
        "",
        "heating",
    );
    check(BASE, ("1 Road|Li|111|coal|", 30), ("9 Road|Li|111|coal|elderly", 40), "9 Road|Li|111|coal|", "", "address");
}

#[test]
fn the_same_change_on_both_sides_is_no_conflict() {
    check(
        BASE,
        ("1 Road|Li|222|coal|elderly", 30),
        ("1 Road|Li|222|coal|elderly", 10),
        "1 Road|Li|222|coal|elderly",
        "",
        "phone",
    );
}

#[test]
fn a_collision_goes_to_the_later_edit() {
    let (current, incoming) = ("2 Road|Li|111|coal|elderly", "3 Road|Li|111|coal|elderly");
    check(BASE, (current, 10), (incoming, 20), incoming, "address", "address");
    check(BASE, (current, 20), (incoming, 10), current, "address", "address");
}

#[test]
fn a_tie_goes_to_the_server() {
    check(
        BASE,
        ("2 Road|Li|111|coal|elderly", 15),
        ("3 Road|Li|111|coal|elderly", 15),
        "2 Road|Li|111|coal|elderly",
        "address",
        "address",
    );
}

#[test]
fn collisions_and_clean_changes_mix_field_by_field() {
    // Phone later: it wins the colliding phone and tags; the server's heating stays; the
    // phone's address (untouched on the server) is taken; the same head_name on both is no conflict.
    check(
        BASE,
        ("1 Road|Wang|222|gas|x", 10),
        ("5 Road|Wang|333|coal|y", 20),
        "5 Road|Wang|333|gas|y",
        "phone tags",
        "address head_name phone tags",
    );
    // Same edits, server later.
    check(
        BASE,
        ("1 Road|Wang|222|gas|x", 20),
        ("5 Road|Wang|333|coal|y", 10),
        "5 Road|Wang|222|gas|x",
        "phone tags",
        "address head_name phone tags",
    );
}

#[test]
fn clearing_the_phone_number_is_a_change() {
    check(BASE, (BASE, 10), ("1 Road|Li|-|coal|elderly", 20), "1 Road|Li|-|coal|elderly", "", "phone");
    check(
        BASE,
        ("1 Road|Li|222|coal|elderly", 10),
        ("1 Road|Li|-|coal|elderly", 20),
        "1 Road|Li|-|coal|elderly",
        "phone",
        "phone",
    );
    check(
        BASE,
        ("1 Road|Li|222|coal|elderly", 30),
        ("1 Road|Li|-|coal|elderly", 20),
        "1 Road|Li|222|coal|elderly",
        "phone",
        "phone",
    );
}

#[test]
fn tags_merge_as_one_value() {
    // Order is content: a reordering is a change.
    check(
        "1 Road|Li|111|coal|a,b",
        ("1 Road|Li|111|coal|a,b", 10),
        ("1 Road|Li|111|coal|b,a", 5),
        "1 Road|Li|111|coal|b,a",
        "",
        "tags",
    );
    check(
        "1 Road|Li|111|coal|a",
        ("1 Road|Li|111|coal|a,s", 10),
        ("1 Road|Li|111|coal|a,p", 20),
        "1 Road|Li|111|coal|a,p",
        "tags",
        "tags",
    );
}

#[test]
fn a_resent_edit_after_it_was_applied_changes_nothing() {
    // The phone's edit was applied (current = incoming) but the answer was lost; it sends again
    // from the same base.
    let edit = "2 Road|Wang|-|gas|x";
    let m = merge_household(&hh(BASE), &hh(edit), 10, &hh(edit), 10);
    assert!(m.unchanged(&hh(edit)));
    assert!(m.conflicting_fields.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Properties

fn household() -> impl Strategy<Value = HouseholdFields> {
    (
        select(vec!["1 Road", "2 Road", "3 Road"]),
        select(vec!["Li", "Wang"]),
        select(vec![None, Some("111"), Some("222")]),
        select(vec![Heating::Coal, Heating::Gas, Heating::Central]),
        select(vec![vec![], vec!["a"], vec!["a", "b"], vec!["b", "a"]]),
    )
        .prop_map(|(address, head_name, phone, heating, tags)| HouseholdFields {
            address: address.to_owned(),
            head_name: head_name.to_owned(),
            phone: phone.map(str::to_owned),
            heating,
            tags: tags.into_iter().map(str::to_owned).collect(),
        })
}

/// Each field as a comparable string, by name.
fn fields(h: &HouseholdFields) -> [(&'static str, String); 5] {
    [
        ("address", h.address.clone()),
        ("head_name", h.head_name.clone()),
        ("phone", format!("{:?}", h.phone)),
        ("heating", h.heating.as_str().to_owned()),
        ("tags", h.tags.join(",")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_field_comes_from_one_side(
        base in household(), current in household(), incoming in household(), cur in 0i64..3, inc in 0i64..3,
    ) {
        let m = merge_household(&base, &current, cur, &incoming, inc);
        let (b, c, i, r) = (fields(&base), fields(&current), fields(&incoming), fields(&m.fields));
        for k in 0..5 {
            let name = r[k].0;
            prop_assert!(r[k].1 == c[k].1 || r[k].1 == i[k].1, "{name} is neither side's");
            let phone_changed = i[k].1 != b[k].1;
            let server_changed = c[k].1 != b[k].1;
            let collided = phone_changed && server_changed && i[k].1 != c[k].1;
            prop_assert_eq!(m.phone_changed.contains(&name), phone_changed, "phone_changed {}", name);
            prop_assert_eq!(m.conflicting_fields.contains(&name), collided, "conflicting {}", name);
            // Nothing silently dropped: a change only one side made always survives.
            if phone_changed && !server_changed {
                prop_assert_eq!(&r[k].1, &i[k].1);
            }
            if server_changed && !phone_changed {
                prop_assert_eq!(&r[k].1, &c[k].1);
            }
            if collided {
                let winner = if inc > cur { &i[k].1 } else { &c[k].1 };
                prop_assert_eq!(&r[k].1, winner, "later edit wins {}, tie to the server", name);
            }
        }
    }

    #[test]
    fn with_an_unchanged_server_the_phone_wins(base in household(), incoming in household(), cur in 0i64..3, inc in 0i64..3) {
        let m = merge_household(&base, &base, cur, &incoming, inc);
        prop_assert_eq!(&m.fields, &incoming);
        prop_assert!(m.conflicting_fields.is_empty());
    }

    #[test]
    fn an_unchanged_phone_leaves_the_server_as_is(base in household(), current in household(), cur in 0i64..3, inc in 0i64..3) {
        let m = merge_household(&base, &current, cur, &base, inc);
        prop_assert_eq!(&m.fields, &current);
        prop_assert!(m.conflicting_fields.is_empty());
        prop_assert!(m.phone_changed.is_empty());
        prop_assert!(m.unchanged(&current));
    }

    #[test]
    fn the_merge_is_a_function_of_its_inputs(
        base in household(), current in household(), incoming in household(), cur in 0i64..3, inc in 0i64..3,
    ) {
        let first = merge_household(&base, &current, cur, &incoming, inc);
        let again = merge_household(&base.clone(), &current.clone(), cur, &incoming.clone(), inc);
        prop_assert_eq!(&first, &again);
        // Merging the result again with the same edit is stable (a re-sent edit changes nothing more).
        let twice = merge_household(&base, &first.fields, cur.max(inc), &incoming, inc);
        prop_assert_eq!(&twice.fields, &first.fields);
    }
}
