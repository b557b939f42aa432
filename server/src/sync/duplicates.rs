//! Duplicate households (contract 1.1): the key two registrations of one door share. Volunteers
//! type the same address differently (full-width digits, spaces, punctuation, letter case), so the
//! key keeps only letters, digits and ideographs, with full-width forms folded to ASCII.

/// Folds a full-width form (U+FF01..U+FF5E, the ideographic space) to ASCII, lower-cased.
fn fold(c: char) -> Option<char> {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0)?,
        other => other,
    };
    c.is_alphanumeric().then(|| c.to_lowercase().next().unwrap_or(c))
}

fn normalise(text: &str) -> String {
    text.chars().filter_map(fold).collect()
}

/// The duplicate key of a household: its normalised address and head's name; `None` when the
/// address has nothing left to compare (never a match then).
pub fn key(address: &str, head_name: &str) -> Option<String> {
    let address = normalise(address);
    (!address.is_empty()).then(|| format!("{address}|{}", normalise(head_name)))
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn one_door_typed_two_ways_has_one_key() {
        let same = [
            (("西城路 12号 3单元-501", "王大爷"), ("西城路１２号３单元501", " 王 大爷")),
            (("Xicheng Rd 12, Apt 5B", "Wang"), ("xicheng rd. 12 apt 5b", "WANG")),
        ];
        for (a, b) in same {
            assert_eq!(key(a.0, a.1), key(b.0, b.1), "{a:?} / {b:?}");
        }
        assert_ne!(key("西城路12号", "王大爷"), key("西城路13号", "王大爷"));
        assert_ne!(key("西城路12号", "王大爷"), key("西城路12号", "李奶奶"));
        assert_eq!(key(" -- ", "王大爷"), None);
    }
}
