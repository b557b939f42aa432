//! Households are the one mutable record: a volunteer may edit one offline while the server
//! (another volunteer, an admin) edits it too. The phone says which version it started from
//! (`base_version`); the server merges field by field so that nothing either side did is
//! silently dropped.

use super::records::HouseholdFields;
use crate::time::Millis;

/// The result of [`merge_household`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The merged household: every field is either the current (server) value or the incoming
    /// (phone) one.
    pub fields: HouseholdFields,
    /// Fields both sides changed to different values (the later `updated_at` won), in field order.
    pub conflicting_fields: Vec<&'static str>,
    /// Fields the phone changed (incoming ≠ base), whether or not its value won, in field order.
    pub phone_changed: Vec<&'static str>,
}

impl MergeOutcome {
    /// The merge changed nothing on the server's side.
    pub fn unchanged(&self, current: &HouseholdFields) -> bool {
        &self.fields == current
    }
}

/// Merges the phone's edit (`incoming`, made from `base`, the version it last saw) onto the
/// server's `current` version, field by field (`address`, `head_name`, `phone`, `heating`,
/// `tags`; `tags` as one value):
///
/// * the phone did not change the field (incoming = base): keep current;
/// * only the phone changed it (current = base): take incoming;
/// * both changed it to the same value: that value, no conflict;
/// * both changed it to different values: the later `updated_at` wins, a tie goes to the server
///   (current), and the field is listed in `conflicting_fields`.
///
/// A pure function of its arguments.
pub fn merge_household(
    base: &HouseholdFields,
    current: &HouseholdFields,
    current_updated_at: Millis,
    incoming: &HouseholdFields,
    incoming_updated_at: Millis,
) -> MergeOutcome {
    let mut m = Merger {
        incoming_wins_conflicts: incoming_updated_at > current_updated_at,
        conflicting_fields: Vec::new(),
        phone_changed: Vec::new(),
    };
    let fields = HouseholdFields {
        address: m.field("address", &base.address, &current.address, &incoming.address),
        head_name: m.field("head_name", &base.head_name, &current.head_name, &incoming.head_name),
        phone: m.field("phone", &base.phone, &current.phone, &incoming.phone),
        heating: m.field("heating", &base.heating, &current.heating, &incoming.heating),
        tags: m.field("tags", &base.tags, &current.tags, &incoming.tags),
    };
    MergeOutcome { fields, conflicting_fields: m.conflicting_fields, phone_changed: m.phone_changed }
}

struct Merger {
    incoming_wins_conflicts: bool,
    conflicting_fields: Vec<&'static str>,
    phone_changed: Vec<&'static str>,
}

impl Merger {
    fn field<T: PartialEq + Clone>(&mut self, name: &'static str, base: &T, current: &T, incoming: &T) -> T {
        if incoming == base {
            return current.clone();
        }
        self.phone_changed.push(name);
        if current == base || current == incoming {
            return incoming.clone();
        }
        self.conflicting_fields.push(name);
        if self.incoming_wins_conflicts {
            incoming.clone()
        } else {
            current.clone()
        }
    }
}
